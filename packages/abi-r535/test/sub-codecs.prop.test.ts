/**
 * r535's payload-building sub-interface codecs (WPR meta, LIBOS page, registry, sequencer) round-trip random
 * inputs, and every truncation is `ABI_SHORT_BUFFER`.
 */
import { api } from '../src/index.ts';
import { subInterfaceCodecProperties } from './support/sub-codec-suite.ts';

subInterfaceCodecProperties('535.113.01', api);
