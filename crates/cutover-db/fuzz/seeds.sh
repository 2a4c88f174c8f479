#!/usr/bin/env bash
# Writes a few seed inputs into corpus/<target>/ (the corpus itself is not committed).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/dump corpus/serialized
printf -- "-- MySQL dump\nINSERT INTO \`t\` VALUES (1,'http://o.t/a','a:1:{s:1:\\\\\"u\\\\\";s:10:\\\\\"http://o.t\\\\\";}',_binary 'x',0x6F2E74,NULL),(2,\"{\\\\\"u\\\\\":\\\\\"http:\\\\\\\\/\\\\\\\\/o.t\\\\\"}\",'it''s\\\\n');\n" > corpus/dump/mysql
printf -- "--\n-- PostgreSQL database dump\n--\nCREATE FUNCTION f() RETURNS text AS \$_\$SELECT 'http://o.t'\$_\$;\nCOPY public.t (a, b) FROM stdin;\n1\thttp://o.t\\\\n\\\\t\\\\\\\\\n2\t\\\\N\n\\\\.\nINSERT INTO t VALUES (1, E'http://o.t\\\\n', 'x''y');\n" > corpus/dump/postgres
printf -- "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(a TEXT, b BLOB);\nINSERT INTO \"t\" VALUES('http://o.t/''x',X'6F2E74');\nCOMMIT;\n" > corpus/dump/sqlite
printf 'a:3:{s:1:"u";s:10:"http://o.t";i:0;O:8:"stdClass":1:{s:1:"j";s:14:"["http://o.t"]";}s:1:"d";d:0.5;}' > corpus/serialized/php
printf '{"u":"http:\\/\\/o.t","a":[1,-2.5e3,true,null,"caf\\u00e9"],"k":{"o.t":"o.t"}}' > corpus/serialized/json
echo "seeds written to $(pwd)/corpus"
