// The fake device lives in the package (subpath @gspkit/drm-frontend/testing) so other workspaces' tests can use it.
export * from '../src/testing/fake-device.ts';
