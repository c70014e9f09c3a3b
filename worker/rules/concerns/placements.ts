/** `rules/placements.yaml`. See rules/README.md. */
import { z } from 'zod'

export const placementsSchema = z.strictObject({}).prefault({})

export type PlacementsRules = z.output<typeof placementsSchema>
