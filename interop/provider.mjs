// A real, independent OpenID Provider for tokenguard's interop suite:
// npm's `oidc-provider` with a small configuration of our own.
//
//   PORT=0 KEYS_FILE=/tmp/keys.json [ROTATE=1] node interop/provider.mjs
//
// Prints `listening on http://127.0.0.1:PORT` once it accepts requests.
//
// - Signing keys live in KEYS_FILE (created on first start: one RS256 and one
//   ES256 key). ROTATE=1 puts a new RS256 key in front before starting: new
//   tokens are signed with it while the old one stays published.
// - Clients (all client_secret_basic):
//     tokenguard-example / introspection-secret — the resource server itself,
//       which may only introspect;
//     service / service-secret — client credentials, scopes read write admin;
//     app / app-secret — the password grant (a stand-in for Keycloak's
//       direct access grant) and refresh tokens, scopes read write.
//     anonymous (public: no secret) — the same grants.
// - Users for the password grant: alice / wonderland.
// - Resources (RFC 8707 `resource`), all with audience `tokenguard-example`
//   unless said otherwise:
//     urn:tokenguard:rs256   JWT access tokens signed RS256 (the default)
//     urn:tokenguard:es256   JWT access tokens signed ES256
//     urn:tokenguard:opaque  opaque access tokens (checked by introspection)
//     urn:tokenguard:short   JWT access tokens that live 2 seconds
//     urn:other              JWT access tokens for audience `another-api`
// - Introspection at /token/introspection, revocation at /token/revocation.

import { createServer } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import { exportJWK, generateKeyPair } from 'jose';
import { Provider, errors } from 'oidc-provider';

const AUDIENCE = 'tokenguard-example';
const USERS = { alice: 'wonderland' };
const SCOPES = 'read write admin';

const jwt = (alg, extra = {}) => ({
  audience: AUDIENCE,
  scope: SCOPES,
  accessTokenFormat: 'jwt',
  accessTokenTTL: 300,
  jwt: { sign: { alg } },
  ...extra,
});

const RESOURCES = {
  'urn:tokenguard:rs256': jwt('RS256'),
  'urn:tokenguard:es256': jwt('ES256'),
  'urn:tokenguard:short': jwt('RS256', { accessTokenTTL: 2 }),
  'urn:other': jwt('RS256', { audience: 'another-api' }),
  'urn:tokenguard:opaque': { audience: AUDIENCE, scope: SCOPES, accessTokenFormat: 'opaque', accessTokenTTL: 300 },
};
const DEFAULT_RESOURCE = 'urn:tokenguard:rs256';

async function newKey(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
}

async function signingKeys() {
  const file = process.env.KEYS_FILE;
  let keys = file && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
  if (!keys) {
    keys = [await newKey('RS256', 'rsa-1'), await newKey('ES256', 'ec-1')];
  }
  if (process.env.ROTATE === '1') {
    keys.unshift(await newKey('RS256', `rsa-${keys.length + 1}`));
  }
  if (file) {
    writeFileSync(file, JSON.stringify(keys));
  }
  return keys;
}

function resourceServerInfo(resource) {
  const info = RESOURCES[resource];
  if (!info) {
    throw new errors.InvalidTarget();
  }
  return info;
}

const server = createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'tokenguard-example',
      client_secret: 'introspection-secret',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'service',
      client_secret: 'service-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPES,
    },
    {
      client_id: 'app',
      client_secret: 'app-secret',
      grant_types: ['password', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      scope: 'read write',
    },
    {
      // A public client, as a Keycloak realm's `anonymous`: no secret.
      client_id: 'anonymous',
      token_endpoint_auth_method: 'none',
      grant_types: ['password', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      scope: 'read write',
    },
  ],
  jwks: { keys: await signingKeys() },
  scopes: ['openid', 'offline_access', 'read', 'write', 'admin'],
  findAccount: (ctx, id) => (USERS[id] ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => DEFAULT_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => resourceServerInfo(resource),
    },
  },
  rotateRefreshToken: true,
});

// The resource-owner password grant (RFC 6749 §4.3), registered as a custom
// grant: it issues an access token for the requested resource and a refresh
// token that oidc-provider's own refresh_token grant then accepts.
provider.registerGrantType('password', async (ctx) => {
  const { params, client } = ctx.oidc;
  if (!params.username || USERS[params.username] !== params.password) {
    throw new errors.InvalidGrant('invalid resource owner credentials');
  }
  const resource = params.resource || DEFAULT_RESOURCE;
  const info = resourceServerInfo(resource);
  const allowed = new Set(info.scope.split(' '));
  const clientScopes = new Set((client.scope || '').split(' '));
  const scope = (params.scope || 'read').split(' ').filter((s) => allowed.has(s) && clientScopes.has(s)).join(' ');

  const grant = new provider.Grant({ accountId: params.username, clientId: client.clientId });
  grant.addResourceScope(resource, scope);
  const grantId = await grant.save();

  const at = new provider.AccessToken({ accountId: params.username, client, grantId, gty: 'password', scope });
  at.resourceServer = new provider.ResourceServer(resource, info);
  const accessToken = await at.save();

  const rt = new provider.RefreshToken({
    accountId: params.username, client, grantId, gty: 'password', resource, scope, rotations: 0,
  });
  const refreshToken = await rt.save();

  ctx.body = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: at.expiration,
    refresh_token: refreshToken,
    scope,
  };
}, ['username', 'password', 'scope', 'resource']);

provider.on('server_error', (ctx, error) => console.error('server_error', error));
server.on('request', provider.callback());
console.log(`listening on ${issuer}`);
