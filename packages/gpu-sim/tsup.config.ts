import { packageBuild } from '../../configs/tsup.base.ts';

// The GSP-RM emulator's worker thread loads its own built file.
export default packageBuild({ entry: { index: 'src/index.ts', 'gsp-rm-worker': 'src/gsp-rm/worker.ts' } });
