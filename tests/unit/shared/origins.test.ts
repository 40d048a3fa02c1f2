/**
 * A source's allowed origins: how operators' entries are normalised, and how requests' `Origin`
 * headers match them (exact origins and `*.` subdomain wildcards).
 */
import { isOriginAllowed, parseAllowedOrigin } from '../../../lib/shared/origins';

describe('parseAllowedOrigin', () => {
  it.each([
    ['https://shop.example', 'https://shop.example'],
    ['HTTPS://Shop.Example/', 'https://shop.example'],
    ['https://shop.example:443', 'https://shop.example'],
    ['http://localhost:8080', 'http://localhost:8080'],
    ['  https://shop.example  ', 'https://shop.example'],
    ['https://*.Shop.example', 'https://*.shop.example'],
    ['https://*.shop.example:8443', 'https://*.shop.example:8443'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
  ])('normalises %s to %s', (text, origin) => {
    expect(parseAllowedOrigin(text)).toEqual({ ok: true, origin });
  });

  it.each([
    ['*', '"*" is not an origin: a source without a list of origins accepts every origin'],
    [
      'shop.example',
      '"shop.example" is not an origin; write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example',
    ],
    [
      'ftp://shop.example',
      '"ftp://shop.example" is not an http or https origin; write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example',
    ],
    [
      'https://shop.example/cart',
      '"https://shop.example/cart" has a path, query or credentials, which an origin never has; write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example',
    ],
    [
      'https://shop.example/?',
      '"https://shop.example/?" has a path, query or credentials, which an origin never has; write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example',
    ],
    [
      'https://user@shop.example',
      '"https://user@shop.example" has a path, query or credentials, which an origin never has; write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example',
    ],
    ['https://*.com', '"https://*.com": a wildcard stands for the subdomains of a domain name, e.g. https://*.shop.example'],
    [
      'https://a.*.shop.example',
      '"https://a.*.shop.example": only a leading "*." may stand for subdomains; write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example',
    ],
    ['', 'an origin is 1-300 characters; write it as scheme://host[:port], e.g. https://shop.example or https://*.shop.example'],
  ])('refuses %j', (text, problem) => {
    expect(parseAllowedOrigin(text)).toEqual({ ok: false, problem });
  });
});

describe('isOriginAllowed', () => {
  const allowed = ['https://shop.example', 'https://*.brand.example', 'http://localhost:8080'];

  it.each(['https://shop.example', 'https://www.brand.example', 'https://a.b.brand.example', 'http://localhost:8080'])(
    'allows %s',
    (origin) => {
      expect(isOriginAllowed(origin, allowed)).toBe(true);
    },
  );

  it.each([
    'http://shop.example',
    'https://shop.example:8443',
    'https://evil-shop.example',
    'https://shop.example.evil.example',
    'https://brand.example',
    'https://evilbrand.example',
    'https://www.brand.example:8443',
    'http://localhost:3000',
    'null',
    'not an origin',
    '',
  ])('refuses %j', (origin) => {
    expect(isOriginAllowed(origin, allowed)).toBe(false);
  });

  it('matches a header that spells the origin differently from the list', () => {
    expect(isOriginAllowed('HTTPS://SHOP.EXAMPLE:443', allowed)).toBe(true);
  });

  it('allows nothing with an empty list', () => {
    expect(isOriginAllowed('https://shop.example', [])).toBe(false);
  });
});
