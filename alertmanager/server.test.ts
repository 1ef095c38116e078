import { describe, expect, it } from 'vitest';

import { defaultReceiverConfig } from '../core/config.ts';
import { tokenMatches } from './server.ts';
import { receiverToken } from './service.ts';

describe('bearer token', () => {
  it('matches only the exact token, with the Bearer scheme', () => {
    expect(tokenMatches('Bearer s3cret', 's3cret')).toBe(true);
    expect(tokenMatches('bearer s3cret', 's3cret')).toBe(true);
    expect(tokenMatches('Bearer s3cre', 's3cret')).toBe(false);
    expect(tokenMatches('Bearer s3cret2', 's3cret')).toBe(false);
    expect(tokenMatches('Basic s3cret', 's3cret')).toBe(false);
    expect(tokenMatches('s3cret', 's3cret')).toBe(false);
    expect(tokenMatches(undefined, 's3cret')).toBe(false);
  });

  it('is required unless the receiver listens on loopback', () => {
    expect(receiverToken({ ...defaultReceiverConfig(), listen: '127.0.0.1:8081' }, {})).toBeUndefined();
    expect(() => receiverToken({ ...defaultReceiverConfig(), listen: '0.0.0.0:8081' }, {})).toThrow(/without a token; set receiver.tokenFile or receiver.tokenEnv/);
    expect(receiverToken({ ...defaultReceiverConfig(), listen: '0.0.0.0:8081', tokenEnv: 'T' }, { T: 'abc' })).toBe('abc');
    expect(() => receiverToken({ ...defaultReceiverConfig(), listen: '0.0.0.0:8081', tokenFile: '/nonexistent/token' }, {})).toThrow(/receiver token: cannot read \/nonexistent\/token: ENOENT/);
  });
});
