import { packageBuild } from '../../configs/tsup.base.ts';

export default packageBuild();
