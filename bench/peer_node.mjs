// node oidc-provider, the peer of bench/peer.py. bench/peer.py copies this file
// next to its npm cache (so that `import 'oidc-provider'` resolves there) and runs
//   node provider.mjs PORT PROCESSES SECRETS_JSON
// on 127.0.0.1: PROCESSES 1 serves in this process, 2 or more forks that many
// workers with node's cluster module (one port, connections shared out).
// The settings mirror Keyholder's where the two differ by default; each is
// explained where it is set.
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const [port, processes, secretsJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const secrets = JSON.parse(secretsJson);
const RESOURCE = 'urn:keyholder-bench:api';

// Every worker must sign with the same keys and read the same cookies: the
// primary makes them once and hands them down.
if (!process.env.BENCH_KEYS) {
  const jwk = (type, options) => generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  process.env.BENCH_KEYS = JSON.stringify({
    jwks: [{ ...jwk('ec', { namedCurve: 'P-256' }), alg: 'ES256', use: 'sig' },
      { ...jwk('rsa', { modulusLength: 2048 }), alg: 'RS256', use: 'sig' }],
    cookies: [randomBytes(32).toString('base64url')],
  });
}
const keys = JSON.parse(process.env.BENCH_KEYS);

// A Map with expiry: oidc-provider's own memory adapter is an LRU of 1,000
// entries, which a pool of benchmark tokens would overflow (evicted tokens
// answer active: false). A production deployment would use Redis or a
// database: this is the fastest store node can have.
const store = new Map();
const grants = new Map();
class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (payload.grantId) {
      if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
      grants.get(payload.grantId).add(key);
    }
    if (payload.uid) store.set(`uid:${payload.uid}`, { payload: key, expiresAt: Infinity });
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt < Date.now()) { store.delete(this.key(id)); return undefined; }
    return entry.payload;
  }

  async findByUid(uid) {
    const key = store.get(`uid:${uid}`)?.payload;
    return key && this.find(key.slice(this.model.length + 1));
  }

  async findByUserCode() { return undefined; }

  async consume(id) { (await this.find(id)).consumed = Math.floor(Date.now() / 1000); }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const key of grants.get(grantId) ?? []) store.delete(key);
    grants.delete(grantId);
  }
}

// One person with Keyholder's customer claims (the bench person's, as static data).
const person = {
  sub: 'bench-person', name: 'Bench Person', locale: 'en', email: 'bench@example.com',
  email_verified: true, phone_number: '+32470000001', customer_number: '123456789',
  role: 'administrator', customer_type: 'business',
  entitlements: ['bills', 'usage:all', 'usage:own_mobile', 'options:all', 'options:activate_paid',
    'options:activate_free:own_mobile', 'bizz_club', 'onedrive', 'tv', 'cloud', 'foot11'],
};

const configuration = {
  adapter: MapAdapter,
  clients: [
    { client_id: 'bench-service', client_secret: secrets.service, grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: 'bench-web', client_secret: secrets.web, redirect_uris: [secrets.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic' },
  ],
  jwks: { keys: keys.jwks },
  cookies: { keys: keys.cookies },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ ...person, sub }) }),
  scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'customer', 'api'],
  claims: {
    profile: ['name', 'locale'], email: ['email', 'email_verified'], phone: ['phone_number'],
    customer: ['customer_number', 'role', 'customer_type', 'entitlements'],
  },
  features: {
    devInteractions: { enabled: true }, // the code flow's login and consent pages
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    // Access tokens for RESOURCE are JWTs signed with ES256 (RFC 9068), as
    // Keyholder's are; tokens without a resource stay opaque (node can only
    // introspect opaque tokens, and UserInfo takes only tokens without one).
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== RESOURCE) throw new Error(`unknown resource ${resource}`);
        return { scope: 'api', audience: RESOURCE, accessTokenFormat: 'jwt',
          accessTokenTTL: 300, jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
  pkce: { required: () => true }, // Keyholder requires PKCE S256 of every client
  // As Keyholder: a client with the refresh_token grant always gets a refresh
  // token, which rotates at every use and does not end with the session.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  expiresWithSession: async () => false,
  // Keyholder's lifetimes (seconds).
  ttl: { AccessToken: 300, ClientCredentials: 300, IdToken: 600, AuthorizationCode: 60,
    RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600, Session: 12 * 3600, Interaction: 3600 },
};

if (Number(processes) > 1 && cluster.isPrimary) {
  for (let i = 0; i < Number(processes); i += 1) cluster.fork();
  cluster.on('exit', (worker, code) => { if (code) process.exit(code); });
  process.on('SIGTERM', () => { for (const w of Object.values(cluster.workers)) w.kill(); process.exit(0); });
} else {
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  provider.listen(Number(port), '127.0.0.1');
}
