/**
 * Attribution models: how much credit each touchpoint before a conversion gets. Pure functions
 * (no Workers imports); CustomerState.attribute() runs them over the stored history.
 *
 * - first_touch / last_touch: all credit to the earliest / latest touchpoint.
 * - linear: equal shares.
 * - time_decay: weight 2^(-(conversion - t) / halfLife), normalised to 1.
 * - position_based: `first` and `last` shares (default 40/40) to the ends, the rest split evenly
 *   between the touchpoints in between; with two touchpoints the ends share everything in the
 *   ratio first:last; with one it gets everything.
 */
import type { AttributionModel } from '../rules/concerns/utm'

export interface AttributionTouch {
  id: string
  /** ms since epoch. */
  at: number
  source: string | null
  medium: string | null
  campaign: string | null
}

export interface Conversion {
  /** The conversion event's id (echoed back). */
  id?: string
  /** ms since epoch. */
  at: number
  /** Monetary value to distribute (credit x value per touchpoint); defaults to 0. */
  value?: number
}

export interface AttributionOptions {
  models: readonly AttributionModel[]
  lookbackDays: number
  timeDecayHalfLifeDays: number
  positionBased: { first: number; last: number }
}

export interface Credit {
  touchpointId: string
  at: number
  source: string | null
  medium: string | null
  campaign: string | null
  /** Share of the conversion, 0..1; shares of one model sum to 1 (when any touchpoint qualifies). */
  credit: number
  /** credit x conversion value. */
  value: number
}

export interface AttributionResult {
  conversionId: string | null
  conversionAt: number
  value: number
  /** Touchpoints inside the lookback window that received credit. */
  touchpoints: number
  models: Partial<Record<AttributionModel, Credit[]>>
}

const DAY_MS = 86_400_000

/** Credits `touches` for `conversion` by each configured model. */
export function attribute(
  touches: readonly AttributionTouch[],
  conversion: Conversion,
  opts: AttributionOptions,
): AttributionResult {
  const from = conversion.at - opts.lookbackDays * DAY_MS
  const eligible = touches
    .filter((t) => t.at <= conversion.at && t.at >= from)
    .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const value = Number.isFinite(conversion.value) ? (conversion.value as number) : 0
  const models: AttributionResult['models'] = {}
  for (const model of opts.models) {
    const shares = eligible.length === 0 ? [] : weights(model, eligible, conversion.at, opts)
    models[model] = eligible
      .map((t, i) => ({
        touchpointId: t.id,
        at: t.at,
        source: t.source,
        medium: t.medium,
        campaign: t.campaign,
        credit: shares[i]!,
        value: shares[i]! * value,
      }))
      .filter((c) => c.credit > 0)
  }
  return {
    conversionId: conversion.id ?? null,
    conversionAt: conversion.at,
    value,
    touchpoints: eligible.length,
    models,
  }
}

/** Shares per touchpoint (same order as `touches`, oldest first), summing to 1. */
export function weights(
  model: AttributionModel,
  touches: readonly AttributionTouch[],
  conversionAt: number,
  opts: Pick<AttributionOptions, 'timeDecayHalfLifeDays' | 'positionBased'>,
): number[] {
  const n = touches.length
  const out = new Array<number>(n).fill(0)
  if (n === 0) return out
  switch (model) {
    case 'first_touch':
      out[0] = 1
      return out
    case 'last_touch':
      out[n - 1] = 1
      return out
    case 'linear':
      return out.fill(1 / n)
    case 'time_decay': {
      const halfLife = opts.timeDecayHalfLifeDays * DAY_MS
      const raw = touches.map((t) => Math.pow(2, -(conversionAt - t.at) / halfLife))
      const total = raw.reduce((a, b) => a + b, 0)
      return raw.map((w) => w / total)
    }
    case 'position_based': {
      const { first, last } = opts.positionBased
      if (n === 1) {
        out[0] = 1
        return out
      }
      if (n === 2) {
        const ends = first + last
        out[0] = ends === 0 ? 0.5 : first / ends
        out[1] = ends === 0 ? 0.5 : last / ends
        return out
      }
      const middle = (1 - first - last) / (n - 2)
      out.fill(middle)
      out[0] = first
      out[n - 1] = last
      return out
    }
  }
}
