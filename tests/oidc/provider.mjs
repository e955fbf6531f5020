// A real OpenID provider for Jiaoyun's sign-in tests: node's oidc-provider (OpenID certified) with
// its development login form, clients, signing keys and people given by the test in a JSON file.
//   node provider.mjs CONFIG.json      (prints "listening <issuer>" once it serves)
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// login → claims. The login is the account id, hence the ID token's `sub` (oidc-provider makes it
// so); the usernames Jiaoyun should see are in preferred_username.
const people = settings.people;

const provider = new Provider(settings.issuer, {
  clients: settings.clients,
  jwks: { keys: settings.signing_keys },
  cookies: { keys: [settings.cookie_key] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'school', 'groups'],
    email: ['email'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  ttl: { IdToken: settings.id_token_ttl_s ?? 3600, AccessToken: 3600, Session: 3600, Grant: 3600 },
  async findAccount(ctx, id) {
    const claims = people[id];
    if (!claims) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...claims };
      },
    };
  },
  // First-party clients: the people consented when the district set them up.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'school', 'groups', 'email']);
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));
const server = provider.listen(settings.port, '127.0.0.1', () => {
  console.log(`listening ${settings.issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
