/**
 * Compiles conditions (audiences.yaml's language) into closures, once per isolate: no eval, no
 * interpretation of the YAML tree at request time. A predicate never throws: a condition that
 * cannot be evaluated is false, and says so in the trace. Pure.
 */
import { ALL_STATE_PARTS } from '../../durable-objects/customer/contract'
import type { ConditionInput } from '../rules/concerns/audiences'
import type { DecisionContext } from './context'
import { parseDuration } from './duration'
import { resolveField } from './fields'
import { checkRegex, MAX_SUBJECT_LENGTH } from './regex'
import { inSchedule, type Schedule } from './schedule'

/** Per-evaluation scratch: the context, the trace, and what the guards need to know. */
export interface Scope {
  ctx: DecisionContext
  trace: string[]
  /** Freshness limit for customer attributes in this evaluation (ms). */
  maxAgeMs: number
  /** Attributes ignored because they were older than the limit (created on first use). */
  stale: string[] | null
  /** Audience/trait results already computed for this visitor (created on first use). */
  memo: Map<string, boolean> | null
  /**
   * When set, audience/trait results are memoised per generation inside each compiled condition
   * instead of in `memo` (no Map per decision). A generation from `memoGeneration()` is unique to
   * one evaluation: take a new one wherever `memo` would be reset.
   */
  gen?: number
  /** Conditions that could not be evaluated, logged by the caller (created on first use). */
  errors: string[] | null
}

export type Predicate = (s: Scope) => boolean

export interface Compiled {
  test: Predicate
  /**
   * The parts of customer state (StatePart flags: customer.* attributes, events.*, intent) it
   * reads, directly or through references; 0 when it reads none.
   */
  state: number
}

/** Named conditions by kind, compiled on first use (references may point forwards). */
export interface ConditionLibrary {
  resolve(kind: 'audience' | 'trait', name: string): Compiled | undefined
}

const FALSE: Predicate = () => false

let generation = 0
/** A fresh memo generation for `Scope.gen` (never reused in the isolate). */
export function memoGeneration(): number {
  return ++generation
}

/** Compiles one condition; `where` names it in traces and compile problems. */
export function compileCondition(
  cond: ConditionInput,
  lib: ConditionLibrary,
  where: string,
  problems: string[],
): Compiled {
  if (cond.all) {
    const parts = cond.all.map((c, i) => compileCondition(c, lib, `${where}.all[${i}]`, problems))
    const tests = parts.map((p) => p.test)
    return {
      state: parts.reduce((m, p) => m | p.state, 0),
      test: (s) => {
        for (let i = 0; i < tests.length; i++) if (!tests[i]!(s)) return false
        return true
      },
    }
  }
  if (cond.any) {
    const parts = cond.any.map((c, i) => compileCondition(c, lib, `${where}.any[${i}]`, problems))
    const tests = parts.map((p) => p.test)
    return {
      state: parts.reduce((m, p) => m | p.state, 0),
      test: (s) => {
        for (let i = 0; i < tests.length; i++) if (tests[i]!(s)) return true
        return false
      },
    }
  }
  if (cond.not) {
    const inner = compileCondition(cond.not, lib, `${where}.not`, problems)
    return { state: inner.state, test: (s) => !inner.test(s) }
  }
  if (cond.audience !== undefined || cond.trait !== undefined) {
    const kind = cond.audience !== undefined ? 'audience' : 'trait'
    const name = (cond.audience ?? cond.trait)!
    const target = lib.resolve(kind, name)
    if (!target) return impossible(`${where}: unknown ${kind} "${name}"`, problems)
    return target
  }
  if (cond.schedule) {
    const schedule = cond.schedule as Schedule
    return {
      state: 0,
      test: (s) => {
        try {
          return inSchedule(schedule, s.ctx.now).ok
        } catch (e) {
          ;(s.errors ??= []).push(`${where}: schedule: ${(e as Error).message}`)
          return false
        }
      },
    }
  }
  if (cond.field !== undefined) return compileLeaf(cond, where, problems)
  return impossible(`${where}: empty condition`, problems)
}

function impossible(message: string, problems: string[]): Compiled {
  problems.push(message)
  return { state: 0, test: FALSE }
}

function compileLeaf(cond: ConditionInput, where: string, problems: string[]): Compiled {
  const field = resolveField(cond.field!)
  if (!field.ok) return impossible(`${where}: ${field.error.message}`, problems)
  const acc = field.value
  const op = operator(cond, where, problems)
  const timeZone = cond.timeZone ?? 'UTC'
  const leafMaxAge = cond.maxAge ? parseDuration(cond.maxAge) : null
  const attribute = acc.attribute
  const isState = acc.source === 'state'
  return {
    state: isState ? (acc.part ?? ALL_STATE_PARTS) : 0,
    test: (s) => {
      try {
        let value: unknown
        // Customer data is used for personalisation only with that consent.
        if (isState && !s.ctx.consent.purposes.personalization) value = undefined
        else value = acc.read(s.ctx, timeZone)
        if (
          attribute !== undefined &&
          value !== undefined &&
          typeof s.ctx.state === 'object' &&
          s.ctx.state
        ) {
          const updatedAt = s.ctx.state.attributes[attribute]?.updatedAt ?? 0
          if (s.ctx.now - updatedAt > (leafMaxAge ?? s.maxAgeMs)) {
            const stale = (s.stale ??= [])
            if (!stale.includes(attribute)) stale.push(attribute)
            value = undefined
          }
        }
        return op(value)
      } catch (e) {
        ;(s.errors ??= []).push(`${where}: ${(e as Error).message}`)
        return false
      }
    },
  }
}

type Scalar = string | number | boolean
const present = (v: unknown): boolean => v !== undefined && v !== null
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

function operator(cond: ConditionInput, where: string, problems: string[]): (v: unknown) => boolean {
  if (cond.eq !== undefined) {
    const x: Scalar = cond.eq
    return (v) => v === x
  }
  if (cond.ne !== undefined) {
    const x: Scalar = cond.ne
    return (v) => present(v) && v !== x
  }
  if (cond.in !== undefined) {
    const set = new Set<unknown>(cond.in)
    return (v) => set.has(v)
  }
  if (cond.nin !== undefined) {
    const set = new Set<unknown>(cond.nin)
    return (v) => present(v) && !set.has(v)
  }
  if (cond.gt !== undefined) {
    const x = cond.gt
    return (v) => num(v) && v > x
  }
  if (cond.gte !== undefined) {
    const x = cond.gte
    return (v) => num(v) && v >= x
  }
  if (cond.lt !== undefined) {
    const x = cond.lt
    return (v) => num(v) && v < x
  }
  if (cond.lte !== undefined) {
    const x = cond.lte
    return (v) => num(v) && v <= x
  }
  if (cond.between !== undefined) {
    const [lo, hi] = cond.between
    return (v) => num(v) && v >= lo && v <= hi
  }
  if (cond.regex !== undefined) {
    const r = checkRegex(cond.regex)
    if (!r.ok) {
      problems.push(`${where}: regex: ${r.error.message}`)
      return () => false
    }
    const re = r.value
    return (v) =>
      typeof v === 'string' && re.test(v.length > MAX_SUBJECT_LENGTH ? v.slice(0, MAX_SUBJECT_LENGTH) : v)
  }
  if (cond.exists !== undefined) {
    const want = cond.exists
    return (v) => present(v) === want
  }
  problems.push(`${where}: field test without an operator`)
  return () => false
}

/**
 * A library over named conditions, compiling each on first use and detecting reference cycles
 * (a cycle compiles to false and is reported; the compiler rejects cycles before this point).
 */
export function conditionLibrary(
  named: {
    audience: Record<string, { when: ConditionInput }>
    trait: Record<string, { when: ConditionInput }>
  },
  problems: string[],
): ConditionLibrary {
  const done = new Map<string, Compiled>()
  const building = new Set<string>()
  const lib: ConditionLibrary = {
    resolve(kind, name) {
      const key = `${kind}:${name}`
      const hit = done.get(key)
      if (hit) return hit
      const def = Object.hasOwn(named[kind], name) ? named[kind][name] : undefined
      if (!def) return undefined
      if (building.has(key)) {
        problems.push(`${kind} "${name}" refers to itself`)
        return { state: 0, test: FALSE }
      }
      building.add(key)
      const inner = compileCondition(def.when, lib, `${kind} ${name}`, problems)
      building.delete(key)
      const test = inner.test
      const yes = `${kind} ${name}: yes`
      const no = `${kind} ${name}: no`
      // The last generation this condition was evaluated in, and its result. Evaluation is
      // synchronous and a generation belongs to one scope, so one slot per condition suffices.
      let lastGen = 0
      let lastResult = false
      const compiled: Compiled = {
        state: inner.state,
        // Memoised per visitor: an audience used by several rules is evaluated once.
        // The memo is valid for one freshness limit; the engine clears it when the limit changes.
        test: (s) => {
          const gen = s.gen
          if (gen !== undefined) {
            if (gen === lastGen) return lastResult
            const r = test(s)
            lastGen = gen
            lastResult = r
            s.trace.push(r ? yes : no)
            return r
          }
          const m = s.memo?.get(key)
          if (m !== undefined) return m
          const r = test(s)
          ;(s.memo ??= new Map()).set(key, r)
          s.trace.push(r ? yes : no)
          return r
        },
      }
      done.set(key, compiled)
      return compiled
    },
  }
  return lib
}
