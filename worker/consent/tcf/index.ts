/**
 * IAB TCF v2.2/v2.3 TC strings: decoding (`decodeTcString`) and policy validity
 * (`checkTcfValidity`). Pure TypeScript, no Workers imports: runs in Node for benchmarks and in
 * the GPP decoder for its `tcfeuv2` section.
 */
export { decodeTcString, type DecodeTcOptions } from './decode'
export { checkTcfValidity, DEFAULT_TCF_VALIDITY_POLICY, type TcfValidityPolicy } from './validity'
