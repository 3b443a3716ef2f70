import { packageBuild } from '../../configs/tsup.base.ts';

// `@gspkit/drm-frontend/testing`: the in-memory fake device, for tests of clients and servers.
export default packageBuild({
	entry: { index: 'src/index.ts', 'testing/fake-device': 'src/testing/fake-device.ts' },
});
