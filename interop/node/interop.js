'use strict';
// Drives Alibaba Cloud's own Node SDKs against `kmsenv emulator`. Run by
// ../node_test.go with the emulator's environment lines (KMS_ENDPOINT,
// KMS_PROTOCOL, KMSENV_ENDPOINT, ALIBABA_CLOUD_*; NODE_EXTRA_CA_CERTS for
// HTTPS) and the client to use as the only argument:
//
//   pop-core        @alicloud/pop-core RPCClient            (signature v1, HMAC-SHA1)
//   kms20160120     @alicloud/kms20160120 typed client      (on @alicloud/rpc-client)
//   openapi-client  @alicloud/openapi-client callApi        (signature v3, ACS3-HMAC-SHA256)
//
// It runs GenerateDataKey, Decrypt with the right and a wrong encryption
// context, GetSecretValue and a call signed with a wrong secret, and prints
// one JSON object of outcomes on stdout; the Go test judges them. Plaintext
// is compared here and only its length and a match flag are printed.

const env = process.env;
const which = process.argv[2];
const CONTEXT = { tenant: 'a', purpose: 'interop' };
const WRONG_CONTEXT = { tenant: 'b', purpose: 'interop' };
const KEY = 'alias/app';
const SECRET = 'app/db-password';

function errorCode(e) {
  if (!e) return '';
  // The server's Code first: Tea clients name their error "<Code>Error".
  return (e.data && (e.data.Code || e.data.code)) || e.code || e.name || String(e);
}

// Each client is a function (action, params, secret) → response body, with
// params as the API names them (EncryptionContext a JSON string).
function popCore(secret) {
  const RPCClient = require('@alicloud/pop-core').RPCClient;
  const client = new RPCClient({
    accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret: secret,
    securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN,
    endpoint: env.KMSENV_ENDPOINT,
    apiVersion: '2016-01-20',
  });
  return (action, params) =>
    client.request(action, Object.assign({ RegionId: env.ALIBABA_CLOUD_REGION_ID }, params), { method: 'POST', timeout: 10000 });
}

function kms20160120(secret) {
  const Kms = require('@alicloud/kms20160120');
  const Client = Kms.default;
  const client = new Client({
    accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret: secret,
    securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN,
    regionId: env.ALIBABA_CLOUD_REGION_ID,
    endpoint: env.KMS_ENDPOINT,
    protocol: env.KMS_PROTOCOL.toLowerCase(),
  });
  const lower = (o) => {
    const out = {};
    for (const [k, v] of Object.entries(o)) {
      // EncryptionContext stays the JSON string KMS documents: the model
      // declares a map, which the RPC client would flatten into
      // EncryptionContext.<key> parameters (see mapContext below).
      out[k[0].toLowerCase() + k.slice(1)] = v;
    }
    return out;
  };
  const calls = {
    GenerateDataKey: (p) => client.generateDataKey(new Kms.GenerateDataKeyRequest(lower(p))),
    Decrypt: (p) => client.decrypt(new Kms.DecryptRequest(lower(p))),
    GetSecretValue: (p) => client.getSecretValue(new Kms.GetSecretValueRequest(lower(p))),
  };
  const upper = (o) => {
    const out = {};
    for (const [k, v] of Object.entries(o || {})) out[k[0].toUpperCase() + k.slice(1)] = v;
    return out;
  };
  const fn = async (action, params) => upper(await calls[action](params));
  // The model's own type: a map, flattened on the wire.
  fn.mapContext = () => client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId: KEY, encryptionContext: CONTEXT }));
  return fn;
}

function openapiClient(secret) {
  const OpenApi = require('@alicloud/openapi-client');
  const Util = require('@alicloud/tea-util');
  const client = new OpenApi.default(new OpenApi.Config({
    accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret: secret,
    securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN,
    regionId: env.ALIBABA_CLOUD_REGION_ID,
    endpoint: env.KMS_ENDPOINT,
    protocol: env.KMS_PROTOCOL,
  }));
  const call = async (action, params, where = 'query') => {
    const p = new OpenApi.Params({
      action, version: '2016-01-20', protocol: env.KMS_PROTOCOL, pathname: '/', method: 'POST',
      authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
    });
    const res = await client.callApi(p, new OpenApi.OpenApiRequest({ [where]: params }), new Util.RuntimeOptions({}));
    return res.body;
  };
  // The same call with its parameters in a form body, which the V3
  // signature covers through x-acs-content-sha256.
  call.formBody = (action, params) => call(action, params, 'body');
  return call;
}

const clients = { 'pop-core': popCore, kms20160120, 'openapi-client': openapiClient };

async function main() {
  const make = clients[which];
  if (!make) {
    console.error('usage: node interop.js pop-core|kms20160120|openapi-client');
    process.exit(2);
  }
  const call = make(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET);
  const out = { client: which };
  const step = async (name, fn) => {
    try {
      out[name] = Object.assign({ ok: true }, await fn());
    } catch (e) {
      out[name] = { ok: false, code: errorCode(e), message: String(e && e.message || e).slice(0, 300) };
    }
  };
  let gdk;
  await step('generateDataKey', async () => {
    gdk = await call('GenerateDataKey', { KeyId: KEY, EncryptionContext: JSON.stringify(CONTEXT) });
    return { keyId: gdk.KeyId, plaintextBytes: Buffer.from(gdk.Plaintext, 'base64').length };
  });
  await step('decryptRightContext', async () => {
    const d = await call('Decrypt', { CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: JSON.stringify(CONTEXT) });
    return { keyId: d.KeyId, plaintextMatches: d.Plaintext === gdk.Plaintext };
  });
  await step('decryptWrongContext', async () => {
    const d = await call('Decrypt', { CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: JSON.stringify(WRONG_CONTEXT) });
    return { keyId: d.KeyId };
  });
  await step('getSecretValue', async () => {
    const s = await call('GetSecretValue', { SecretName: SECRET });
    return { value: s.SecretData, versionId: s.VersionId };
  });
  if (call.formBody) {
    await step('formBody', async () => {
      const g = await call.formBody('GenerateDataKey', { KeyId: KEY, EncryptionContext: JSON.stringify(CONTEXT) });
      const d = await call.formBody('Decrypt', { CiphertextBlob: g.CiphertextBlob, EncryptionContext: JSON.stringify(CONTEXT) });
      return { keyId: g.KeyId, plaintextMatches: d.Plaintext === g.Plaintext };
    });
  }
  if (call.mapContext) {
    await step('mapContext', async () => {
      await call.mapContext();
      return {};
    });
  }
  await step('badSignature', async () => {
    const bad = make('not-the-secret');
    await bad('GetSecretValue', { SecretName: SECRET });
    return {};
  });
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack || e);
  process.exit(1);
});
