/**
 * Which first exposures a request's decisions report (pure: no Workers imports). An experiment
 * arm shown to a unit is an exposure to that experiment. The global holdout is measured as the
 * experiment `holdout`: a unit decided into it is exposed to arm `holdout`; any other unit that was
 * eligible for it (a stable id and the consent the holdout requires) and was decided outside it
 * is exposed to arm `exposed`, so the comparison is between two randomised groups.
 */
import type { ExperimentAssignment } from '../decide/engine'
import { HOLDOUT_ARMS, HOLDOUT_ID, type MeasuredExperiment } from './definitions'

export interface PlannedExposure {
  experiment: string
  arm: string
  at: number
}

export interface ExposureFacts {
  decisions: ReadonlyArray<{ experiment: ExperimentAssignment | null; fallback: string | null }>
  /** The unit has a stable id and the consent the global holdout requires. */
  holdoutEligible: boolean
  at: number
}

/**
 * @example
 *   planExposures(measured, { decisions: [{ experiment: { id: 'hero_test', arm: 'b', holdout: false }, fallback: null }], holdoutEligible: true, at })
 *   // -> [{ experiment: 'hero_test', arm: 'b', at }, { experiment: 'holdout', arm: 'exposed', at }]
 */
export function planExposures(
  measured: ReadonlyMap<string, MeasuredExperiment>,
  facts: ExposureFacts,
): PlannedExposure[] {
  const out: PlannedExposure[] = []
  const seen = new Set<string>()
  let held = false
  let decided = false
  for (const d of facts.decisions) {
    // A decision made without the state it needed never reached the holdout check.
    if (d.fallback !== 'state_unavailable') decided = true
    const x = d.experiment
    if (!x) continue
    if (x.holdout) {
      if (x.id === HOLDOUT_ID) held = true
      continue
    }
    if (seen.has(x.id) || !measured.get(x.id)?.arms.includes(x.arm)) continue
    seen.add(x.id)
    out.push({ experiment: x.id, arm: x.arm, at: facts.at })
  }
  if (measured.has(HOLDOUT_ID)) {
    if (held) out.push({ experiment: HOLDOUT_ID, arm: HOLDOUT_ARMS.held, at: facts.at })
    else if (decided && facts.holdoutEligible)
      out.push({ experiment: HOLDOUT_ID, arm: HOLDOUT_ARMS.exposed, at: facts.at })
  }
  return out
}
