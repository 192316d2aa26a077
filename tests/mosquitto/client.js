#!/usr/bin/env node
// An MQTT 5 client authenticating with method GSSAPI-KERBEROS (SASL GSSAPI,
// RFC 4752), built on MQTT.js and the `kerberos` addon: what a real
// application would use. Prints one JSON object on stdout; with --trace it
// also narrates the exchange on stderr (scripts/demo shows that).
'use strict';

const { parseArgs } = require('node:util');
const crypto = require('node:crypto');
const mqtt = require('mqtt');
const kerberos = require('kerberos');

const METHOD = 'GSSAPI-KERBEROS';
const AUTH_CONTINUE = 0x18;

// Ways to get the exchange wrong on purpose; e2e.py checks the broker's answer.
const MODES = {
  normal: 'the full exchange, then --subscribe and --publish',
  'garbage-initial': 'random bytes instead of the initial Kerberos token',
  'empty-initial': 'the method without Authentication Data',
  'unknown-method': 'a real token under the method name SCRAM-SHA-1',
  'nonempty-after-aprep': 'answer the AP-REP with one byte instead of nothing',
  'method-switch': 'answer the AP-REP with an AUTH naming SCRAM-SHA-1',
};

const USAGE = `usage: client.js --port N [options]
  --host H           broker address (default 127.0.0.1)
  --port N           broker port
  --target S         Kerberos service, host-based "svc@host" (default mqtt@broker.kerbsasl.test)
  --username U       CONNECT username (the plugin replaces it with the Kerberos identity)
  --client-id ID     MQTT client id (default random)
  --subscribe T      subscribe to T first (repeatable)
  --publish T        publish --message to T with QoS 1 (repeatable)
  --message M        payload (default "hello")
  --mode M           ${Object.keys(MODES).join(', ')}
  --count N          run N normal connections (authenticate, disconnect) and count them
  --parallel K       with --count: K connections at a time (default 1)
  --trace            narrate the exchange on stderr`;

function options() {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      target: { type: 'string', default: 'mqtt@broker.kerbsasl.test' },
      username: { type: 'string' },
      'client-id': { type: 'string' },
      subscribe: { type: 'string', multiple: true, default: [] },
      publish: { type: 'string', multiple: true, default: [] },
      message: { type: 'string', default: 'hello' },
      mode: { type: 'string', default: 'normal' },
      count: { type: 'string' },
      parallel: { type: 'string', default: '1' },
      trace: { type: 'boolean', default: false },
    },
  });
  if (!values.port || !MODES[values.mode]) {
    console.error(USAGE);
    process.exit(2);
  }
  return values;
}

let tracing = false;
function trace(line) {
  if (tracing) process.stderr.write(`     ${line}\n`);
}

// The client side of one SASL GSSAPI exchange.
class Sasl {
  static async start(target) {
    // kerberos imports the target as a host-based name (mqtt@host) and uses
    // the default credential cache (KRB5CCNAME).
    const client = await kerberos.initializeClient(target, {
      flags: kerberos.GSS_C_MUTUAL_FLAG | kerberos.GSS_C_SEQUENCE_FLAG,
      mechOID: kerberos.GSS_MECH_OID_KRB5,
    });
    const initial = Buffer.from(await client.step(''), 'base64');
    return new Sasl(client, initial);
  }

  constructor(client, initial) {
    this.client = client;
    this.initial = initial;
    this.awaitingApRep = true; // mutual authentication: the broker proves itself first
  }

  // Our Authentication Data in answer to one AUTH 0x18 from the broker.
  async answer(data, mode) {
    if (this.awaitingApRep) {
      await this.client.step(data.toString('base64'));
      this.awaitingApRep = false;
      trace(`broker → AUTH continue, ${data.length} bytes: AP-REP (the broker holds the service key)`);
      const reply = mode === 'nonempty-after-aprep' ? Buffer.from([0]) : Buffer.alloc(0);
      trace(`client → AUTH continue, ${reply.length ? 'one byte' : 'empty'}: AP-REP accepted`);
      return reply;
    }
    const offer = Buffer.from(await this.client.unwrap(data.toString('base64')), 'base64');
    trace(`broker → AUTH continue, ${data.length} bytes: wrapped offer ${offer.toString('hex')} (no security layer)`);
    // wrap() sends [0x01 "no layer", offer bytes 1..3] and the authzid (none).
    const reply = Buffer.from(await this.client.wrap(offer.toString('base64'), { user: '' }), 'base64');
    trace(`client → AUTH continue, ${reply.length} bytes: wrapped choice "no layer", no authzid`);
    return reply;
  }
}

function authPacket(method, data) {
  const properties = { authenticationMethod: method };
  if (data.length) properties.authenticationData = data;
  return { cmd: 'auth', reasonCode: AUTH_CONTINUE, properties };
}

// What the CONNECT carries in each mode: [method, data, exchange or null].
async function firstMessage(opts) {
  switch (opts.mode) {
    case 'garbage-initial':
      return [METHOD, crypto.randomBytes(200), null];
    case 'empty-initial':
      return [METHOD, Buffer.alloc(0), null];
    default: {
      const sasl = await Sasl.start(opts.target);
      return [opts.mode === 'unknown-method' ? 'SCRAM-SHA-1' : METHOD, sasl.initial, sasl];
    }
  }
}

// One connection: authenticate, subscribe, publish, wait for our own
// messages, disconnect. Resolves with what happened; never rejects.
async function connection(opts) {
  const result = { connack: null };
  let method, initial, sasl;
  try {
    [method, initial, sasl] = await firstMessage(opts);
  } catch (err) {
    return { ...result, error: err.message };
  }
  const properties = { authenticationMethod: method };
  if (initial.length) properties.authenticationData = initial;
  const clientId = opts['client-id'] || `mqttjs-${crypto.randomBytes(4).toString('hex')}`;
  const username = opts.username === undefined ? '' : `, username "${opts.username}"`;
  const what = sasl ? `Kerberos AP-REQ for ${opts.target}` : 'not a Kerberos token';
  trace(`client → CONNECT as ${clientId}, method ${method}${username}, ${initial.length} bytes: ${what}`);

  const client = mqtt.connect({
    host: opts.host,
    port: Number(opts.port),
    protocolVersion: 5,
    clientId,
    username: opts.username,
    reconnectPeriod: 0,
    connectTimeout: 10000,
    manualConnect: true,
    properties,
  });
  client.handleAuth = (packet, callback) => {
    const data = packet.properties.authenticationData || Buffer.alloc(0);
    if (!sasl) return callback(new Error('AUTH from the broker with no exchange in progress'));
    const wasApRep = sasl.awaitingApRep;
    sasl.answer(data, opts.mode).then(
      (reply) => {
        const switching = opts.mode === 'method-switch' && wasApRep;
        callback(null, authPacket(switching ? 'SCRAM-SHA-1' : METHOD, reply));
      },
      (err) => callback(err),
    );
  };

  const ended = new Promise((resolve) => {
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'connack') {
        const props = packet.properties || {};
        result.connack = { reasonCode: packet.reasonCode, method: props.authenticationMethod };
        trace(`broker → CONNACK 0x${hex(packet.reasonCode)}${props.authenticationMethod ? `, method ${props.authenticationMethod}` : ''}`);
      }
      if (packet.cmd === 'disconnect') {
        result.disconnect = { reasonCode: packet.reasonCode };
        trace(`broker → DISCONNECT 0x${hex(packet.reasonCode)}`);
      }
    });
    client.on('error', (err) => {
      result.error = err.message;
    });
    client.on('close', resolve);
  });
  const connected = new Promise((resolve) => client.once('connect', resolve));
  client.connect();
  if (await Promise.race([connected.then(() => true), ended.then(() => false)])) {
    try {
      await afterConnect(client, opts, result);
    } catch (err) {
      result.error = err.message;
    }
    client.end();
  }
  await ended;
  return result;
}

async function afterConnect(client, opts, result) {
  result.received = [];
  client.on('message', (topic, payload) => {
    result.received.push({ topic, payload: payload.toString() });
    trace(`broker → PUBLISH ${topic} "${payload}": our own message, delivered to our subscription`);
  });
  for (const topic of opts.subscribe) {
    trace(`client → SUBSCRIBE ${topic}`);
    await client.subscribeAsync(topic, { qos: 1 });
  }
  result.publish = [];
  for (const topic of opts.publish) {
    const entry = { topic };
    trace(`client → PUBLISH ${topic} "${opts.message}"`);
    try {
      const puback = await client.publishAsync(topic, opts.message, { qos: 1 });
      entry.reasonCode = puback.reasonCode || 0; // 0x10: accepted, no subscribers
    } catch (err) {
      entry.reasonCode = err.code; // MQTT.js rejects on a PUBACK >= 0x80
    }
    result.publish.push(entry);
    const verdict = entry.reasonCode < 0x80 ? 'allowed' : 'not authorized';
    trace(`broker → PUBACK 0x${hex(entry.reasonCode)}: ${verdict}`);
  }
  // Our own messages on subscribed topics come back within milliseconds.
  if (opts.subscribe.length && opts.publish.length) await sleep(300);
}

// --count: many normal connections from this one process (Node starts in
// ~100 ms, so one process per connection would dominate the run time).
async function many(opts, count, parallel) {
  const summary = { connected: 0, failed: 0, errors: [] };
  let next = 0;
  async function worker() {
    while (next < count) {
      next += 1;
      const r = await connection(opts);
      if (r.connack && r.connack.reasonCode === 0) {
        summary.connected += 1;
      } else {
        summary.failed += 1;
        if (summary.errors.length < 5) summary.errors.push(r.error || r.connack || 'closed');
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return summary;
}

const hex = (n) => Number(n).toString(16).toUpperCase().padStart(2, '0');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const opts = options();
  tracing = opts.trace;
  const result = opts.count
    ? await many(opts, Number(opts.count), Number(opts.parallel))
    : await connection(opts);
  console.log(JSON.stringify(result));
}

main();
