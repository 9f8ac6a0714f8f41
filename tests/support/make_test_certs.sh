#!/usr/bin/env bash
# Makes the certificates the TLS tests use (tests/net/tls_test.cc, tests/clients/test_tls.py) with
# the openssl CLI, into the directory given (created if missing). EC P-256 keys, valid for two days:
#   ca.pem/.key            the test CA
#   server.pem/.key        CN=localhost, for IP 127.0.0.1 and DNS localhost, signed by the CA
#   server2.pem/.key       CN=localhost-2, the same names: the certificate a reload switches to
#   server-enc.key         server.key encrypted with the password "secret" (PKCS#8)
#   client.pem/.key        O=acme, OU=eng, CN=alice (RFC 2253: CN=alice,OU=eng,O=acme), by the CA
#   expired.pem/.key       CN=expired, by the CA, valid only in January 2020
#   other-ca.pem/.key      another CA
#   stranger.pem/.key      CN=mallory, signed by the other CA
set -euo pipefail
dir="$1"
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # ca NAME SUBJECT
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "$2" -days 2 -sha256 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.pem"
}
sign() {  # sign NAME SUBJECT CA EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%b\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 2 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}

ca ca "/CN=sluice test CA"
ca other-ca "/CN=another CA"
server_ext='subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
client_ext='extendedKeyUsage=clientAuth'
sign server "/CN=localhost" ca "$server_ext"
sign server2 "/CN=localhost-2" ca "$server_ext"
sign client "/O=acme/OU=eng/CN=alice" ca "$client_ext"
sign stranger "/CN=mallory" other-ca "$client_ext"
openssl pkcs8 -topk8 -in server.key -out server-enc.key -passout pass:secret -v2 aes-256-cbc

# An expired certificate: `openssl ca` can set dates in the past (x509 -req cannot in 3.0).
key expired.key
openssl req -new -key expired.key -subj "/CN=expired" -out expired.csr
cat >expired-ca.cnf <<CNF
[ ca ]
default_ca = test
[ test ]
database = expired-index.txt
new_certs_dir = .
serial = expired-serial.txt
default_md = sha256
policy = any
[ any ]
commonName = supplied
CNF
: >expired-index.txt
echo 1000 >expired-serial.txt
printf '%b\n' "$client_ext" >expired.ext
openssl ca -batch -config expired-ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
  -out expired.pem -startdate 20200101000000Z -enddate 20200201000000Z -notext \
  -extfile expired.ext 2>/dev/null
