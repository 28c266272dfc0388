// What DockerRuntime accepts as container names, ids and image references, checked before any
// request so that bad input fails with BAD_NAME and reaches no dockerd; and label filters in
// the form the API wants.
import { UsageError } from '../errors';

// Names and ids as Docker accepts them (a leading '/' is Docker's own way of writing names).
const REF_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The ref as the API wants it in a path: checked, without Docker's leading '/'. */
export function checkRef(ref: string): string {
  if (typeof ref !== 'string' || !REF_RE.test(ref)) {
    throw new UsageError('BAD_NAME', `'${String(ref)}' is not a container name or id (letters, digits, '_', '.', '-')`);
  }
  return ref.replace(/^\//, '');
}

export function checkName(name: string): void {
  if (typeof name !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw new UsageError('BAD_NAME', `'${String(name)}' is not a valid container name: two or more of letters, digits, '_', '.', '-', starting with a letter or digit`);
  }
}

export function checkImage(image: string): void {
  if (typeof image !== 'string' || !image || /[\s?#]/.test(image) || image.startsWith('/')) {
    throw new UsageError('BAD_NAME', `'${String(image)}' is not an image reference (e.g. busybox, busybox:1.36, registry:5000/team/app@sha256:...)`);
  }
}

export function labelFilter(labels: Record<string, string> | undefined): string[] {
  return Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);
}
