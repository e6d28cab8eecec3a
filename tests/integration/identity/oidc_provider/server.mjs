// A real OpenID Connect provider (npm `oidc-provider`) for aesp's OIDC verifier tests.
//
// Why a real provider: the verifier must interoperate with what an IdP actually publishes
// (discovery document, JWKS media type, RFC 9068 `at+jwt` access tokens), not with what a test
// author believes it publishes.
//
// Configuration comes from the environment, so the pytest fixture controls everything:
//   OIDC_PORT       port to listen on (127.0.0.1); the issuer is http://127.0.0.1:<port>
//   OIDC_KEYS_FILE  JSON file {"keys": [private JWK, ...]}; each key has kid, alg and use=sig.
//                   The first key of an algorithm signs; the order is how tests rotate keys.
//   OIDC_JWKS_MAX_AGE  Cache-Control max-age (seconds) sent with the JWKS (default 600).
//
// Clients (client_credentials grant, client_secret_basic, secret "secret"):
//   svc-es     tenant "acme",   access tokens signed ES256
//   svc-rs     tenant "acme",   access tokens signed RS256
//   svc-rogue  tenant "globex", access tokens signed ES256
// Resources: urn:aesp:api (the Host) and urn:other:api (someone else's API).
//
// Test hooks: GET /__stats answers {"jwks_requests": n}. The process prints "READY <issuer>"
// on stdout once it listens.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.env.OIDC_PORT ?? '', 10);
if (!Number.isInteger(port) || port <= 0) {
  console.error('OIDC_PORT must be a port number');
  process.exit(2);
}
const keysFile = process.env.OIDC_KEYS_FILE;
if (!keysFile) {
  console.error('OIDC_KEYS_FILE must name a JSON file of private JWKs');
  process.exit(2);
}
const jwks = JSON.parse(readFileSync(keysFile, 'utf8'));
const jwksMaxAge = Number.parseInt(process.env.OIDC_JWKS_MAX_AGE ?? '600', 10);
const issuer = `http://127.0.0.1:${port}`;

const CLIENTS = {
  'svc-es': { tenant: 'acme', alg: 'ES256', groups: ['deployers', 'readers'] },
  'svc-rs': { tenant: 'acme', alg: 'RS256', groups: ['readers'] },
  'svc-rogue': { tenant: 'globex', alg: 'ES256', groups: ['admins'] },
};
const RESOURCES = new Set(['urn:aesp:api', 'urn:other:api']);

const provider = new Provider(issuer, {
  clients: Object.keys(CLIENTS).map((clientId) => ({
    client_id: clientId,
    client_secret: 'secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'tools:invoke',
    id_token_signed_response_alg: CLIENTS[clientId].alg,
  })),
  scopes: ['openid', 'tools:invoke'],
  jwks,
  ttl: { ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:aesp:api',
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator, client) => {
        if (!RESOURCES.has(resourceIndicator)) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: 'tools:invoke',
          audience: resourceIndicator,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: CLIENTS[client.clientId].alg } },
        };
      },
    },
  },
  extraTokenClaims: (ctx, token) => {
    const client = CLIENTS[token.clientId];
    return client ? { tenant: client.tenant, groups: client.groups } : undefined;
  },
});

let jwksRequests = 0;
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/__stats') {
    ctx.body = { jwks_requests: jwksRequests };
    return;
  }
  await next();
  if (ctx.method === 'GET' && ctx.path === '/jwks') {
    jwksRequests += 1;
    ctx.set('Cache-Control', `public, max-age=${jwksMaxAge}`);
  }
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
