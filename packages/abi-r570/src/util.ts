/**
 * r570 package constants.
 *
 * @module
 */

/** The package name stamped into r570's provenance records. */
export const R570_PACKAGE = '@gspkit/abi-r570';
