/**
 * r570's payload-building sub-interface codecs (WPR meta with `flags`/`pmuReservedSize`, LIBOS page, registry,
 * sequencer) round-trip random inputs, and every truncation is `ABI_SHORT_BUFFER`. The suite is r535's.
 */
import { fileURLToPath } from 'node:url';
import type { RmApi } from '@gspkit/abi-r535';
import { api } from '../src/index.ts';

/** r535's suite, loaded by path (a static import would cross TypeScript project boundaries). */
interface SubCodecSuite {
	subInterfaceCodecProperties(version: string, api: RmApi, runs?: number): void;
}
const { subInterfaceCodecProperties } = (await import(
	fileURLToPath(new URL('../../abi-r535/test/support/sub-codec-suite.ts', import.meta.url))
)) as SubCodecSuite;

subInterfaceCodecProperties('570.144', api);
