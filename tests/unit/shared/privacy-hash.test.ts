/** The privacy policy's keyed hash (lib/shared/privacy-hash.ts) is HMAC-SHA256, whatever the key's and the text's length. */
import { createHmac } from 'node:crypto';
import { keyedHash } from '../../../lib/shared/privacy-hash';

const texts = [
  '',
  'u-1',
  'someone@example.com',
  'ünïcødé ✓ 𝄞',
  'x'.repeat(1000),
  'é'.repeat(5000),
  '\ud800 lone surrogate',
  '\udc00 after the pad',
];
const keys = [
  { version: 1, key: 'unit-privacy-key-0123456789' },
  { version: 2, key: 'k'.repeat(64) },
  { version: 7, key: 'a key longer than one SHA-256 block, which HMAC hashes first: '.repeat(3) },
  // Not ASCII: hashed from a buffer holding the pad and the text rather than from the pad's text.
  { version: 9, key: 'schlüssel-ünïcødé-0123456789' },
];

describe('keyedHash', () => {
  it.each(keys)('is the versioned HMAC-SHA256 that node:crypto computes, key version $version', (key) => {
    // Act: each text twice, so a long text before a short one leaves nothing behind.
    const hashed = [...texts, ...texts].map((text) => keyedHash(text, key));

    // Assess
    const expected = [...texts, ...texts].map(
      (text) => `hmac-v${key.version}:${createHmac('sha256', key.key).update(text, 'utf8').digest('hex')}`,
    );
    expect(hashed).toEqual(expected);
  });
});
