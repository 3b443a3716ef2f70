/**
 * Every codec r570 exposes (the neutral `layouts` and every layout a sub-interface binds) round-trips random
 * values and rejects short buffers with a typed error. The property suite is r535's (tests are shared the
 * same way the code is).
 */
import { fileURLToPath } from 'node:url';
import { type Layout, layoutFromManifest } from '@gspkit/abi';
import { SUB_INTERFACE_NAMES } from '@gspkit/abi-r535';
import { abi, manifest } from '../src/index.ts';

/** r535's property suite, loaded by path (a static import would cross TypeScript project boundaries). */
interface CodecSuite {
	codecRoundTrips(abiVersion: string, layouts: Readonly<Record<string, Layout>>, runs?: number): void;
}
const { codecRoundTrips } = (await import(
	fileURLToPath(new URL('../../abi-r535/test/support/codec-suite.ts', import.meta.url))
)) as CodecSuite;

const bound: Record<string, Layout> = {};
for (const name of SUB_INTERFACE_NAMES) {
	for (const t of abi.subInterfaces[name].provenance.types)
		bound[`${name}:${t}`] = layoutFromManifest(t, manifest);
}

codecRoundTrips(abi.version, abi.layouts);
codecRoundTrips(`${abi.version} sub-interface types`, bound, 15);
