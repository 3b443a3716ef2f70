/**
 * The fence-signalling critical section guard.
 *
 * Everything after a job is armed — pushing it to its entity, `run()`, and the completion path that signals
 * fences — is on the fence-signalling critical path: it must neither allocate nor fail (drm-uapi 1.5, style
 * habit 4). gspkit cannot stop JavaScript from allocating, so it does the next best thing: every allocation
 * site in the driver calls {@link noteAllocation}, and the scheduler runs the critical path inside
 * {@link withSignallingSection}. An allocation inside the section throws {@link SignallingSectionError}, so a
 * test that exercises the path catches the mistake. Allocation sites outside the section report to an
 * optional observer ({@link setAllocationObserver}) so tests can also count them.
 *
 * JavaScript is single-threaded, so one module-level depth counter is exact: the section is entered and left
 * synchronously around each critical step.
 *
 * @module
 */

import { SignallingSectionError } from './errors.ts';

let depth = 0;
let current = '';
let observer: ((what: string, inSection: boolean) => void) | undefined;

/**
 * Report an allocation (or any other step that may fail) at `what`. Throws {@link SignallingSectionError}
 * inside the fence-signalling section; otherwise only tells the observer.
 */
export function noteAllocation(what: string): void {
	if (observer !== undefined) observer(what, depth > 0);
	if (depth > 0) throw new SignallingSectionError(what, current);
}

/** Whether the fence-signalling section is active. */
export function inSignallingSection(): boolean {
	return depth > 0;
}

/** The name of the outermost active section (`''` if none). */
export function signallingSectionName(): string {
	return depth > 0 ? current : '';
}

/** Run `fn` inside the fence-signalling section named `name` (nestable). */
export function withSignallingSection<T>(name: string, fn: () => T): T {
	if (depth === 0) current = name;
	depth++;
	try {
		return fn();
	} finally {
		depth--;
		if (depth === 0) current = '';
	}
}

/**
 * Enter the section explicitly (for hot paths that avoid a closure). Always pair with
 * {@link leaveSignallingSection} in a `finally`.
 */
export function enterSignallingSection(name: string): void {
	if (depth === 0) current = name;
	depth++;
}

/** Leave a section entered with {@link enterSignallingSection}. */
export function leaveSignallingSection(): void {
	if (depth > 0) depth--;
	if (depth === 0) current = '';
}

/**
 * Test hook: observe every {@link noteAllocation} (with whether it happened inside the section).
 * Returns the previous observer so tests can restore it.
 */
export function setAllocationObserver(
	fn: ((what: string, inSection: boolean) => void) | undefined,
): ((what: string, inSection: boolean) => void) | undefined {
	const prev = observer;
	observer = fn;
	return prev;
}
