// The records the kafkajs driver produces: the same as tests/clients/client_records.py (change
// both together). Record i: key null for every 5th, else "key-<i>"; a value of (i * 37) % 1000
// bytes, byte j being (i * 31 + j * 7) % 256; one header h = "<i>".
'use strict'

function key(i) {
  return i % 5 === 0 ? null : Buffer.from(`key-${i}`)
}

function value(i) {
  const n = (i * 37) % 1000
  const b = Buffer.alloc(n)
  for (let j = 0; j < n; j++) b[j] = (i * 31 + j * 7) % 256
  return b
}

function headers(i) {
  return { h: Buffer.from(`${i}`) }
}

module.exports = { key, value, headers }
