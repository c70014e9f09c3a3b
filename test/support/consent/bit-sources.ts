/**
 * Every `BitSource` (worker/consent/bits.ts) by name, each loaded from the same base64url text:
 * the reference `BitReader` and the two request-path readers, for the one contract suite they all
 * keep and for the range-list tests that read through each of them.
 */
import { type BitSource, decodeBase64Url, type FibonacciSource } from '../../../worker/consent/bits'
import { SegmentReader } from '../../../worker/consent/gpp/reader'
import { asciiBytes, decodeWords, WordReader, wordsFor } from '../../../worker/consent/tcf/words'
import { BitReader } from './bit-reader'

export interface SourceKind<S extends BitSource = BitSource> {
  name: string
  /** A reader over base64url `text` (every character in the alphabet): 6 bits per character. */
  of(text: string): S
}

export const REFERENCE: SourceKind<BitReader> = {
  name: 'BitReader (reference)',
  of(text) {
    const decoded = decodeBase64Url(text, { maxLength: text.length })
    if (!decoded.ok) throw new Error(decoded.error.message)
    return BitReader.of(decoded.value)
  },
}

export const WORD_READER: SourceKind<WordReader> = {
  name: 'WordReader (TC strings)',
  of(text) {
    const words = new Int32Array(wordsFor(text.length))
    const bitLength = decodeWords(asciiBytes(text, new Uint8Array(text.length)), 0, text.length, words)
    if (bitLength < 0) throw new Error(`${text} is not base64url`)
    return new WordReader(words, bitLength)
  },
}

export const SEGMENT_READER: SourceKind<SegmentReader> = {
  name: 'SegmentReader (GPP)',
  of(text) {
    const reader = new SegmentReader()
    if (reader.load(text, 0, text.length) !== text.length) throw new Error(`${text} is not one segment`)
    return reader
  },
}

/** Every reader, the reference first. */
export const BIT_SOURCES: readonly SourceKind[] = [REFERENCE, WORD_READER, SEGMENT_READER]

/** The readers that also read Fibonacci codes (GPP's). */
export const FIBONACCI_SOURCES: readonly SourceKind<FibonacciSource>[] = [REFERENCE, SEGMENT_READER]
