/**
 * Which request bodies a kind can carry to its system (`Kind.bodies`: http passes any through; db
 * and screen take JSON and forms; sftp JSON), checked against the media types each operation it
 * serves declares, so a contract that promises callers a body the backend cannot take is refused
 * at start-up rather than answered with a failure later.
 */
import type { Contract } from '../contract/contract.ts';
import { bodyKindOf, parseMediaType, type BodyKind } from '../http/media-types.ts';
import type { RegisteredKind } from '../kinds/kind.ts';

/** A kind that does not say carries JSON only. */
export const DEFAULT_BODIES: readonly BodyKind[] = ['json'];

/** The request media types `operationId` declares that a carrier of `carried` bodies cannot take. */
export function mediaNotCarried(carried: readonly BodyKind[], operationId: string, contract: Contract): string[] {
  const op = contract.operation(operationId);
  const requestBody = contract.deref(op.raw.requestBody) as { content?: Record<string, unknown> } | undefined;
  const refused: string[] = [];
  for (const key of Object.keys(requestBody?.content ?? {})) {
    const media = parseMediaType(key);
    if (!media) continue;
    // A wildcard declaration promises whatever the caller sends: only a carrier of everything keeps it.
    const kinds: BodyKind[] = media.essence === '*/*' || media.subtype === '*' ? ['json', 'form', 'multipart', 'text', 'binary'] : [bodyKindOf(media)];
    if (kinds.some((k) => !carried.includes(k))) refused.push(key);
  }
  return refused;
}

/** The problem and fix when `kind` cannot carry a body the operation declares; undefined when it can. */
export function bodiesNotCarried(kind: RegisteredKind, operationId: string, contract: Contract): { problem: string; fix: string } | undefined {
  const carried = kind.bodies ?? DEFAULT_BODIES;
  const refused = mediaNotCarried(carried, operationId, contract);
  if (refused.length === 0) return undefined;
  return {
    problem: `the ${kind.name} kind cannot carry ${refused.join(', ')} bodies, which ${operationId} declares (it carries: ${carried.join(', ')})`,
    fix: `serve ${operationId} with a kind that carries them (http passes any body through), or take ${refused.join(', ')} out of its requestBody in the contract`,
  };
}
