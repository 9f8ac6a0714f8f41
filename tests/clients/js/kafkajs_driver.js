// kafkajs 2.x with its default settings against a broker, for tests/clients/test_kafkajs.py, run
// as `scripts/client-tools.sh node kafkajs_driver.js ...` (NODE_PATH points at the cached
// node_modules). Each command prints one JSON object on stdout; kafkajs's own log goes to stderr.
// A failure prints {"error": {name, type, message}} and exits 1.
//
//   produce BOOTSTRAP TOPIC CODEC COUNT     idempotent producer, records 0..COUNT-1 to partition 0
//   consume BOOTSTRAP TOPIC COUNT [MS]      a new group's consumer from the beginning: the first
//                                           COUNT records, or the error that stopped it (one kafkajs
//                                           does not restart after; MS: give up after, default
//                                           30000), and every crash kafkajs reported
//   group BOOTSTRAP TOPIC PARTITIONS GROUP  two members in a group that rebalances
//   admin BOOTSTRAP TOPIC                   create with configs, describe configs, list, delete
'use strict'

const path = require('path')
const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require('kafkajs')
const rec = require(path.join(__dirname, 'records.js'))

const TIMEOUT = 30000
const LEVELS = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' }
const SOURCES = { 1: 'DYNAMIC_TOPIC_CONFIG', 2: 'DYNAMIC_BROKER_CONFIG', 3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG', 5: 'DEFAULT_CONFIG', 6: 'DYNAMIC_BROKER_LOGGER_CONFIG' }
const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }

// kafkajs logs to stdout by default; the JSON result owns stdout, so its log goes to stderr.
const logCreator = () => ({ namespace, level, log }) => {
  const { message, ...extra } = log
  process.stderr.write(`[kafkajs ${LEVELS[level]}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
}

function client(bootstrap) {
  return new Kafka({ clientId: 'sluice-kafkajs-test', brokers: [bootstrap], logCreator })
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function until(what, cond, state) {
  const deadline = Date.now() + TIMEOUT
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`no ${what} in ${TIMEOUT} ms: ${JSON.stringify(state)}`)
    await sleep(20) // polls a condition that kafkajs's callbacks set; no timing is assumed
  }
}

function message(i, partition) {
  return { key: rec.key(i), value: rec.value(i), headers: rec.headers(i), partition }
}

// Records first..first+count-1, record i to partition i % partitions, sent 50 at a time (one
// request each); returns [index, partition, offset] in order.
async function produce(kafka, topic, codec, count, first = 0, partitions = 1, producer = null) {
  const own = producer === null
  if (own) {
    producer = kafka.producer({ idempotent: true })
    await producer.connect()
  }
  const out = []
  try {
    for (let start = first; start < first + count; start += 50) {
      const ids = []
      for (let i = start; i < Math.min(start + 50, first + count); i++) ids.push(i)
      const meta = await producer.send({ topic, compression: CODECS[codec],
        messages: ids.map(i => message(i, i % partitions)) })
      const next = {}
      for (const m of meta) next[m.partition] = Number(m.baseOffset)
      for (const i of ids) {
        const p = i % partitions
        out.push([i, p, next[p]++])
      }
    }
  } finally {
    if (own) await producer.disconnect()
  }
  return out
}

function recordJson(partition, m) {
  const headers = Object.entries(m.headers || {}).map(([n, v]) => [n, Buffer.from(v || '').toString('hex')])
  return { partition, offset: Number(m.offset), key: m.key === null ? null : m.key.toString('hex'),
    value: (m.value || Buffer.alloc(0)).toString('hex'), headers }
}

function errorJson(e) {
  return { name: e.name, type: e.type || null, message: e.message }
}

async function consume(kafka, topic, count, ms) {
  const consumer = kafka.consumer({ groupId: `check-${topic}-${process.pid}` })
  const out = []
  const crashes = [] // kafkajs restarts the consumer after a retriable error; the others end it
  let failure = null
  consumer.on(consumer.events.CRASH, e => {
    crashes.push({ ...errorJson(e.payload.error), restart: e.payload.restart })
    if (!e.payload.restart) failure = errorJson(e.payload.error)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({ eachMessage: async ({ partition, message: m }) => { out.push(recordJson(partition, m)) } })
  const deadline = Date.now() + ms
  while (out.length < count && failure === null && Date.now() < deadline) await sleep(20)
  await consumer.disconnect()
  return { records: out.slice(0, count), error: failure, crashes }
}

// The phases of tests/clients/py/confluent_driver.py group().
async function group(kafka, topic, partitions, groupId) {
  const producer = kafka.producer({ idempotent: true })
  await producer.connect()
  const members = {}
  const state = {}
  const all = [...Array(partitions).keys()]
  const eq = (a, b) => a !== null && a.length === b.length && a.every((x, i) => x === b[i])
  let phase = 1
  let crash = null

  async function member(name) {
    const consumer = kafka.consumer({ groupId })
    const m = { consumer, assigned: null, log: { assignments: [], records: [], commit_errors: [] } }
    consumer.on(consumer.events.GROUP_JOIN, e => {
      m.assigned = [...(e.payload.memberAssignment[topic] || [])].sort((x, y) => x - y)
      m.log.assignments.push(m.assigned)
    })
    consumer.on(consumer.events.REBALANCING, () => { m.assigned = null })
    consumer.on(consumer.events.CRASH, e => { if (!e.payload.restart) crash = errorJson(e.payload.error) })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message: msg }) => {
        const r = recordJson(partition, msg)
        r.phase = phase
        r.assignment = m.assigned
        m.log.records.push(r)
        try {
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(msg.offset) + 1) }])
        } catch (e) {
          m.log.commit_errors.push([partition, Number(msg.offset), e.message])
        }
      },
    })
    members[name] = m
    state[name] = m.log
    return m
  }
  const total = () => Object.values(members).reduce((n, m) => n + m.log.records.length, 0)
  const check = cond => () => { if (crash) throw new Error(`consumer crashed: ${JSON.stringify(crash)}`); return cond() }

  const a = await member('a')
  await produce(kafka, topic, 'none', 4 * partitions, 0, partitions, producer)
  await until('phase 1', check(() => total() >= 4 * partitions), state)

  phase = 2
  const b = await member('b')
  await until('rebalance to two members', check(() => a.assigned && b.assigned && a.assigned.length && b.assigned.length &&
    eq([...a.assigned, ...b.assigned].sort((x, y) => x - y), all)), state)
  await produce(kafka, topic, 'none', 8 * partitions, 4 * partitions, partitions, producer)
  await until('phase 2', check(() => total() >= 12 * partitions), state)

  phase = 3
  await b.consumer.disconnect()
  await until('rebalance to one member', check(() => eq(a.assigned, all)), state)
  await produce(kafka, topic, 'none', 4 * partitions, 12 * partitions, partitions, producer)
  await until('phase 3', check(() => total() >= 16 * partitions), state)
  await a.consumer.disconnect()
  await producer.disconnect()

  const admin = kafka.admin()
  await admin.connect()
  const committed = {}
  for (const t of await admin.fetchOffsets({ groupId, topics: [topic] })) {
    for (const p of t.partitions) committed[String(p.partition)] = Number(p.offset)
  }
  // The group is empty now: reset it to the earliest offsets, which kafkajs commits as -2.
  await admin.resetOffsets({ groupId, topic, earliest: true })
  const reset = {}
  for (const t of await admin.fetchOffsets({ groupId, topics: [topic] })) {
    for (const p of t.partitions) reset[String(p.partition)] = Number(p.offset)
  }
  await admin.disconnect()
  return { members: state, committed, reset }
}

async function admin(kafka, topic) {
  const client = kafka.admin()
  await client.connect()
  const out = {}
  try {
    const configEntries = [['retention.ms', '3600000'], ['max.message.bytes', '200000'],
      ['cleanup.policy', 'delete'], ['message.timestamp.type', 'LogAppendTime']].map(([name, value]) => ({ name, value }))
    out.create = await client.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries }] })
    try {
      await client.createTopics({ topics: [{ topic: `${topic}-bad`, numPartitions: 1, configEntries: [{ name: 'no.such.config', value: '1' }] }] })
      out.bad_config = null
    } catch (e) {
      const inner = (e.errors && e.errors[0]) || e
      out.bad_config = { type: inner.type || null, message: inner.message }
    }
    out.exists = await client.createTopics({ topics: [{ topic, numPartitions: 3 }] })
    const described = await client.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: true })
    out.configs = {}
    for (const r of described.resources) {
      out.describe_error = r.errorCode
      for (const c of r.configEntries) out.configs[c.configName] = { value: c.configValue, source: SOURCES[c.configSource] || c.configSource }
    }
    out.listed = (await client.listTopics()).sort()
    const md = await client.fetchTopicMetadata({ topics: [topic] })
    out.partitions = md.topics[0].partitions.length
    await client.deleteTopics({ topics: [topic] })
    out.listed_after_delete = (await client.listTopics()).sort()
  } finally {
    await client.disconnect()
  }
  return out
}

async function main(argv) {
  const [cmd, bootstrap, topic] = argv
  const kafka = client(bootstrap)
  let result
  if (cmd === 'produce') result = { delivered: await produce(kafka, topic, argv[3], Number(argv[4])) }
  else if (cmd === 'consume') result = await consume(kafka, topic, Number(argv[3]), Number(argv[4] || TIMEOUT))
  else if (cmd === 'group') result = await group(kafka, topic, Number(argv[3]), argv[4])
  else if (cmd === 'admin') result = await admin(kafka, topic)
  else throw new Error(`unknown command ${cmd}`)
  result.client = `kafkajs ${require('kafkajs/package.json').version}`
  return result
}

// process.exit only once stdout is written out: to a pipe the write is asynchronous.
const finish = (result, code) => process.stdout.write(JSON.stringify(result), () => process.exit(code))
main(process.argv.slice(2)).then(result => finish(result, 0), e => {
  process.stderr.write(`${e.stack}\n`)
  finish({ error: errorJson(e) }, 1)
})
