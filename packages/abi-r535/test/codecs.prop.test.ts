/**
 * Every codec r535 exposes (the neutral `layouts` and every layout a sub-interface binds) round-trips random
 * values and rejects short buffers with a typed error.
 */
import type { Layout } from '@gspkit/abi';
import { layoutFromManifest } from '@gspkit/abi';
import { abi, manifest, SUB_INTERFACE_NAMES } from '../src/index.ts';
import { codecRoundTrips } from './support/codec-suite.ts';

const bound: Record<string, Layout> = {};
for (const name of SUB_INTERFACE_NAMES) {
	for (const t of abi.subInterfaces[name].provenance.types)
		bound[`${name}:${t}`] = layoutFromManifest(t, manifest);
}

codecRoundTrips(abi.version, abi.layouts);
codecRoundTrips(`${abi.version} sub-interface types`, bound, 15);
