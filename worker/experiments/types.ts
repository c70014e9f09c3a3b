/**
 * The shapes shared by experiment measurement (exposures, attribution, sharded aggregates: the I/O
 * side) and experiment analysis (the pure statistics engine). Aggregates are sufficient statistics:
 * per experiment, arm, metric and UTC day of first exposure, the number of units and the sums a
 * mean, a variance, a ratio (delta method) and a CUPED adjustment need. Shards are merged by adding
 * every field, so merging is order-free.
 */

/** Sums over the units of one arm for one metric (one value per unit: its total within the window). */
export interface MetricSums {
  /** Σ x over units (for a binary metric, the number of converted units). */
  sum: number
  /** Σ x² over units. */
  sumSq: number
  /** Ratio metrics: Σ y, Σ y², Σ x·y over units, for the delta method (x numerator, y denominator). */
  denSum?: number
  denSumSq?: number
  crossSum?: number
  /** CUPED: Σ c, Σ c², Σ x·c with c the unit's pre-exposure value of the same metric. */
  covSum?: number
  covSumSq?: number
  covCross?: number
}

/** One arm's aggregates for units whose first exposure fell on `day` (YYYY-MM-DD, UTC). */
export interface ArmDay {
  arm: string
  day: string
  units: number
  metrics: Record<string, MetricSums>
}

export type MetricKind = 'binary' | 'count' | 'revenue' | 'ratio'

export interface MetricDefinition {
  id: string
  kind: MetricKind
  /** The event type that counts (numerator for a ratio). */
  event: string
  /** revenue: the event prop summed (e.g. `value`). */
  prop?: string
  /** ratio: the denominator's event type (and prop, when summed). */
  denominator?: { event: string; prop?: string }
  /** Attribution window after first exposure, in days. */
  windowDays: number
  /** Which way is good: a guardrail harmed is a rise when `higherIsBetter` is false. */
  higherIsBetter: boolean
}

/** What the rules say about deciding an experiment. */
export interface DecisionPolicy {
  /** The metric that decides. */
  primary: string
  guardrails: string[]
  /** Two-sided significance level, e.g. 0.05. */
  alpha: number
  /** Planned power, e.g. 0.8. */
  power: number
  /** The smallest relative effect worth shipping, e.g. 0.02 for 2%. */
  minimumEffect: number
}

export interface ExperimentInput {
  id: string
  control: string
  arms: string[]
  /** The planned split, arm -> weight (sums to 100), for the sample ratio mismatch check. */
  weights: Record<string, number>
  metrics: MetricDefinition[]
  policy: DecisionPolicy
  rows: ArmDay[]
}
