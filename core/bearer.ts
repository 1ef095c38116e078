/** Bearer-token checks shared by the adapter's and the receiver's HTTP endpoints. */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Does the Authorization header carry `Bearer <token>`? Constant-time in the header's content. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  // Hashing first gives equal lengths, so the comparison time does not depend on the input.
  return timingSafeEqual(digest(match ? match[1].trim() : ''), digest(token)) && match !== null;
}
