import { describe, expect, it } from 'vitest'
import { expiredDayPartitions, objectKey, partitionOf, sealingStateKey } from './layout'

describe('archive layout', () => {
  it.each([
    ['2026-12-03T19:35:10.000Z', 'decisions/dt=2026-12-03/hour=19/'],
    ['2026-12-03T00:00:00.000Z', 'decisions/dt=2026-12-03/hour=00/'],
    // A record stamped with an offset lands in its UTC hour.
    ['2026-12-04T01:30:00+02:00', 'decisions/dt=2026-12-03/hour=23/'],
  ])('files a record at %s under %s', (time, partition) => {
    expect(partitionOf(time)).toBe(partition)
  })

  it('names a batch by its ids, whatever their order', async () => {
    const p = 'decisions/dt=2026-12-03/hour=19/'
    expect(await objectKey(p, ['b', 'a', 'c'])).toBe(await objectKey(p, ['c', 'b', 'a']))
    expect(await objectKey(p, ['a', 'b'])).not.toBe(await objectKey(p, ['a', 'b', 'c']))
  })

  it.each([
    [{ customerId: 'c1', anonymousId: 'a1' }, 'c:c1'],
    [{ customerId: null, anonymousId: 'a1' }, 'a:a1'],
    [{ customerId: null, anonymousId: null }, null],
  ])('seals %j under %s', (record, stateKey) => {
    expect(sealingStateKey(record)).toBe(stateKey)
  })

  it('drops a day only once its last hour is past the window, and ignores anything else', () => {
    const now = Date.parse('2026-12-10T12:00:00Z')
    const prefixes = [
      'decisions/dt=2026-11-30/',
      'decisions/dt=2026-12-01/',
      'decisions/dt=2026-12-02/',
      'decisions/dt=2026-12-10/',
      'decisions/dt=not-a-day/',
      'decisions/other/',
    ]
    // 8 days: the cutoff is 2026-12-02T12:00, so 2026-12-02 still holds records inside the window.
    expect(expiredDayPartitions(prefixes, 8, now)).toEqual([
      'decisions/dt=2026-11-30/',
      'decisions/dt=2026-12-01/',
    ])
  })
})
