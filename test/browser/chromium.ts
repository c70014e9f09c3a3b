/**
 * Launches Debian's Chromium for the browser tests, with the flags this machine needs (no
 * sandbox as root, no background networking: the network is closed). A missing Chromium is a
 * failure, never a skip: `.ci/run` installs it.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
]

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`chromium not found at ${CHROMIUM}: install it (apt-get install chromium)`)
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS })
}
