#!/usr/bin/env python3
"""A deterministic benchmark repository for `bench/secret_scan.sh`: a Laravel + Vue shop with
a few thousand files and a few hundred commits, look-alikes everywhere (lock files, hashes, UUIDs,
base64 images, placeholders, validation rules), and secrets planted in some commits: some still in
the working tree, some only in history (deleted, replaced, or on a branch never merged).

    gen_secret_repo.py --out DIR [--files 3000] [--commits 300] [--seed 1]

Writes DIR/repo (the git repository, built with `git fast-import`) and DIR/planted.json: every
planted value's type, file, line and commit, and where it is in the working tree if it still is.
Values are generated from the seed; none is written in this file.
"""

import argparse
import base64
import json
import os
import random
import string
import subprocess

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
WORDS = (
    "order invoice customer product cart payment shipment refund coupon review category brand stock "
    "warehouse supplier report dashboard profile account address wishlist newsletter subscription "
    "notification setting session message ticket comment tag media gallery price tax discount"
).split()


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def pick(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def uuid(self):
        return f"{self.pick(HEX, 8)}-{self.pick(HEX, 4)}-4{self.pick(HEX, 3)}-a{self.pick(HEX, 3)}-{self.pick(HEX, 12)}"

    def jwt(self):
        def enc(obj):
            return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

        claims = {"sub": str(self.r.randint(10**5, 10**9)), "name": self.camel(), "iat": 1700000000, "scope": "admin"}
        return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(claims)}.{self.pick(B64URL, 43)}"

    def word(self):
        return self.r.choice(WORDS)

    def camel(self, n=2):
        return "".join(self.word().capitalize() for _ in range(n))

    def pem(self, kind, lines=25):
        # Real bodies start with their format's magic: DER's SEQUENCE, or "openssh-key-v1".
        magic = "b3BlbnNzaC1rZXktdjEAAAAA" if "OPENSSH" in kind else "MIIEowIBAAKCAQEA"
        body = [magic + self.pick(B64, 64 - len(magic))] + [self.pick(B64, 64) for _ in range(lines - 1)]
        return f"-----BEGIN {kind}-----\n" + "\n".join(body) + f"\n{self.pick(B64, 40)}==\n-----END {kind}-----\n"

    # --- ordinary files -------------------------------------------------------------------

    def php_controller(self, name):
        model = name.replace("Controller", "")
        methods = []
        for action in self.r.sample(["index", "show", "store", "update", "destroy", "export", "search"], 4):
            methods.append(f"""    public function {action}(Request $request)
    {{
        $validated = $request->validate([
            'name' => 'required|string|max:255',
            'email' => 'required|email',
            'password' => 'required|string|min:8|confirmed',
            '{self.word()}_id' => 'nullable|integer',
        ]);
        ${self.word()} = {model}::query()->where('status', '{self.word()}')->paginate({self.r.randint(10, 50)});
        Log::info('{action} {model}', ['user' => $request->user()?->id, 'token' => $request->bearerToken() ? 'present' : 'none']);
        return response()->json(['data' => ${self.word()}, 'request_id' => '{self.uuid()}']);
    }}
""")
        return f"""<?php

namespace App\\Http\\Controllers;

use App\\Models\\{model};
use Illuminate\\Http\\Request;
use Illuminate\\Support\\Facades\\Log;

class {name} extends Controller
{{
{chr(10).join(methods)}}}
"""

    def php_model(self, name):
        fields = ", ".join(f"'{self.word()}_{i}'" for i in range(self.r.randint(4, 9)))
        return f"""<?php

namespace App\\Models;

use Illuminate\\Database\\Eloquent\\Model;

class {name} extends Model
{{
    protected $fillable = [{fields}];
    protected $hidden = ['password', 'remember_token', 'api_token'];
    protected $casts = ['email_verified_at' => 'datetime', 'password' => 'hashed'];

    public function {self.word()}()
    {{
        return $this->belongsTo({self.camel(1)}::class);
    }}
}}
"""

    def migration(self, table):
        cols = "\n".join(
            f"            $table->{self.r.choice(['string', 'integer', 'text', 'boolean', 'decimal'])}('{self.word()}_{i}');"
            for i in range(self.r.randint(3, 10))
        )
        return f"""<?php

use Illuminate\\Database\\Migrations\\Migration;
use Illuminate\\Database\\Schema\\Blueprint;
use Illuminate\\Support\\Facades\\Schema;

return new class extends Migration
{{
    public function up(): void
    {{
        Schema::create('{table}', function (Blueprint $table) {{
            $table->id();
{cols}
            $table->string('token', 64)->unique()->nullable();
            $table->timestamps();
        }});
    }}
}};
"""

    def blade(self, name):
        rows = "\n".join(f"        <li>{{{{ ${self.word()}->{self.word()} }}}}</li>" for _ in range(self.r.randint(5, 25)))
        return f"""@extends('layouts.app')

@section('content')
<form method="POST" action="{{{{ route('{name}.store') }}}}">
    @csrf
    <input type="hidden" name="_token" value="{{{{ csrf_token() }}}}">
    <label for="password">Password</label>
    <input id="password" type="password" name="password" autocomplete="new-password">
    <ul>
{rows}
    </ul>
</form>
@endsection
"""

    def vue(self, name):
        data = ",\n".join(f"      {self.word()}{i}: null" for i in range(self.r.randint(3, 12)))
        return f"""<template>
  <div class="{name.lower()}">
    <input v-model="password" type="password" placeholder="Password" />
    <button @click="submit">Save</button>
  </div>
</template>

<script>
import axios from 'axios';

export default {{
  name: '{name}',
  data() {{
    return {{
      password: '',
      token: localStorage.getItem('token'),
{data}
    }};
  }},
  methods: {{
    async submit() {{
      const headers = {{ Authorization: `Bearer ${{this.token}}` }};
      await axios.post('/api/{self.word()}s', {{ id: '{self.uuid()}' }}, {{ headers }});
    }},
  }},
}};
</script>
"""

    def js_module(self, name):
        fns = "\n\n".join(
            f"export function {self.word()}{self.camel(1)}(input) {{\n  const key = `{self.word()}:${{input.id}}`;\n"
            f"  return cache.get(key) ?? fetch(`/api/{self.word()}/${{input.id}}`).then((r) => r.json());\n}}"
            for _ in range(self.r.randint(2, 8))
        )
        return f"import {{ cache }} from './cache';\n\nconst API_TOKEN = process.env.MIX_API_TOKEN;\n\n{fns}\n"

    def python_script(self, name):
        return f'''#!/usr/bin/env python3
"""{name}: maintenance task for the {self.word()} tables."""

import os
import hashlib

DB_PASSWORD = os.environ["DB_PASSWORD"]
API_TOKEN = os.getenv("API_TOKEN", "")


def checksum(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    expected = "{self.pick(HEX, 64)}"
    for row in range({self.r.randint(10, 1000)}):
        print(row, "{self.word()}", expected[:8])


if __name__ == "__main__":
    main()
'''

    def markdown(self, name):
        paras = "\n\n".join(
            f"The {self.word()} service stores each {self.word()} with a {self.word()} reference. "
            f"Set the password and token through the environment, never in the code: `DB_PASSWORD`, `API_TOKEN`. "
            f"Commit {self.pick(HEX, 40)} changed how the {self.word()} is cached."
            for _ in range(self.r.randint(3, 12))
        )
        return f"# {name}\n\n{paras}\n"

    def fixture(self, name):
        rows = [
            {
                "id": self.uuid(),
                "user_id": self.r.randint(1, 10**6),
                "sha1": self.pick(HEX, 40),
                "sha256": self.pick(HEX, 64),
                "etag": self.pick(HEX, 32),
                "reference": self.pick(HEX, 40),
                "password_hash": "$2y$10$" + self.pick(ALNUM + "./", 53),
                "created_at": "2023-0%d-1%dT10:00:00Z" % (self.r.randint(1, 9), self.r.randint(0, 9)),
            }
            for _ in range(self.r.randint(3, 30))
        ]
        return json.dumps(rows, indent=2) + "\n"

    def css(self):
        rules = "\n".join(
            f".{self.word()}-{i} {{ margin: {self.r.randint(0, 40)}px; color: #{self.pick(HEX, 6)}; }}"
            for i in range(self.r.randint(20, 200))
        )
        image = f".hero {{ background: url(data:image/png;base64,{self.pick(B64, self.r.randint(500, 4000))}=); }}"
        return rules + "\n" + image + "\n"

    def package_lock(self, n):
        packages = {"": {"name": "shop", "version": "1.0.0"}}
        for i in range(n):
            name = f"{self.word()}-{self.word()}-{i}"
            packages[f"node_modules/{name}"] = {
                "version": f"{self.r.randint(0, 9)}.{self.r.randint(0, 20)}.{self.r.randint(0, 9)}",
                "resolved": f"https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz",
                "integrity": "sha512-" + self.pick(B64, 86) + "==",
                "dev": self.r.random() < 0.5,
            }
        packages["node_modules/js-tokens"] = {"version": "4.0.0", "integrity": "sha512-" + self.pick(B64, 86) + "=="}
        return json.dumps({"name": "shop", "lockfileVersion": 3, "packages": packages}, indent=2) + "\n"

    def composer_lock(self, n):
        packages = [
            {
                "name": f"{self.word()}/{self.word()}-{i}",
                "version": f"v{self.r.randint(1, 9)}.{self.r.randint(0, 9)}.0",
                "source": {"type": "git", "url": f"https://github.com/{self.word()}/{self.word()}.git", "reference": self.pick(HEX, 40)},
                "dist": {"type": "zip", "url": f"https://api.github.com/repos/x/y/zipball/{self.pick(HEX, 40)}", "reference": self.pick(HEX, 40), "shasum": ""},
                "keywords": ["token", "auth", "password", "security"],
            }
            for i in range(n)
        ]
        return json.dumps({"content-hash": self.pick(HEX, 32), "packages": packages}, indent=4) + "\n"

    def yarn_lock(self, n):
        return "".join(
            f'"{self.word()}-{i}@^1.0.0":\n  version "1.0.{i}"\n  resolved "https://registry.yarnpkg.com/x/-/x-1.0.{i}.tgz#{self.pick(HEX, 40)}"\n'
            f"  integrity sha512-{self.pick(B64, 86)}==\n\n"
            for i in range(n)
        )

    def minified(self, size):
        chunk = "function(e,t,n){var r=n(%d),o={key:\"%s\",token:t.token||null,secret:void 0};return r.apply(o,e)},"
        out = []
        while sum(map(len, out)) < size:
            out.append(chunk % (self.r.randint(0, 999), self.word()))
        return "!(" + "".join(out) + "0);\n"

    def png(self):
        return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(self.r.getrandbits(8) for _ in range(self.r.randint(2000, 20000)))


STATIC_FILES = {
    ".env.example": (
        "APP_NAME=Shop\nAPP_ENV=local\nAPP_KEY=\nAPP_DEBUG=true\nDB_PASSWORD=\nMAIL_PASSWORD=null\n"
        "STRIPE_SECRET=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nAWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY=\n"
        "GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nAPI_TOKEN=${API_TOKEN}\n"
        "SLACK_WEBHOOK=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n"
        "DATABASE_URL=postgres://user:password@localhost:5432/shop\n"
    ),
    "docs/aws.md": (
        "# AWS\n\nAWS documents these example credentials:\n\n    aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n"
        "Use a Stripe key starting with `sk_live_` only in production.\n\n"
        "    -----BEGIN RSA PRIVATE KEY-----\n    ...\n    -----END RSA PRIVATE KEY-----\n"
    ),
    "docker-compose.yml": "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n",
    ".github/workflows/deploy.yml": (
        "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy.sh\n        env:\n"
        "          API_TOKEN: ${{ secrets.API_TOKEN }}\n          SSH_PRIVATE_KEY: ${{ secrets.SSH_KEY }}\n"
    ),
    "config/app.php": "<?php\n\nreturn [\n    'name' => env('APP_NAME', 'Shop'),\n    'key' => env('APP_KEY'),\n    'cipher' => 'AES-256-CBC',\n];\n",
}


def ordinary_files(g, count):
    """Paths and generators of the app's ordinary files, about `count` of them."""
    files = {}
    kinds = [
        (0.12, lambda i: (f"app/Http/Controllers/{g.camel()}{i}Controller.php", lambda p: g.php_controller(os.path.basename(p)[:-4]))),
        (0.08, lambda i: (f"app/Models/{g.camel()}{i}.php", lambda p: g.php_model(os.path.basename(p)[:-4]))),
        (0.08, lambda i: (f"database/migrations/2023_01_{i:04d}_create_{g.word()}_table.php", lambda p: g.migration(g.word() + "s"))),
        (0.12, lambda i: (f"resources/views/{g.word()}/{g.word()}{i}.blade.php", lambda p: g.blade(g.word()))),
        (0.15, lambda i: (f"resources/js/components/{g.camel()}{i}.vue", lambda p: g.vue(os.path.basename(p)[:-4]))),
        (0.12, lambda i: (f"resources/js/lib/{g.word()}{i}.js", lambda p: g.js_module(p))),
        (0.08, lambda i: (f"scripts/{g.word()}_{i}.py", lambda p: g.python_script(os.path.basename(p)))),
        (0.10, lambda i: (f"docs/{g.word()}/{g.word()}-{i}.md", lambda p: g.markdown(g.camel()))),
        (0.10, lambda i: (f"tests/fixtures/{g.word()}_{i}.json", lambda p: g.fixture(p))),
        (0.03, lambda i: (f"public/css/{g.word()}{i}.css", lambda p: g.css())),
        (0.02, lambda i: (f"public/img/{g.word()}{i}.png", lambda p: g.png())),
    ]
    i = 0
    while len(files) < count:
        x = g.r.random()
        for weight, make in kinds:
            x -= weight
            if x <= 0:
                path, content = make(i)
                files[path] = content
                break
        i += 1
    return files


def to_bytes(content):
    return content if isinstance(content, bytes) else content.encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--commits", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    g = Gen(args.seed)
    repo = os.path.join(args.out, "repo")
    os.makedirs(repo)
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)

    makers = ordinary_files(g, args.files - 20)
    paths = sorted(makers)
    g.r.shuffle(paths)
    initial = paths[: len(paths) * 6 // 10]
    later = paths[len(paths) * 6 // 10 :]

    planted = []
    tree = {}  # path -> content at the tip of main
    commits = []  # per commit: (message, {path: content or None for delete}, branch)

    def plant(kind, path, content, value, commit_index):
        planted.append({"type": kind, "file": path, "value": value, "commit_index": commit_index, "content": content})

    first = {p: makers[p](p) for p in initial}
    first.update(STATIC_FILES)
    first["package-lock.json"] = g.package_lock(1500)
    first["composer.lock"] = g.composer_lock(150)
    first["yarn.lock"] = g.yarn_lock(800)
    first["public/js/vendor.min.js"] = g.minified(1_500_000)
    commits.append(("Initial shop", first, "main"))

    per_commit = max(1, -(-len(later) // (args.commits - 1)))
    secret_commits = {}

    def at(index):
        return secret_commits.setdefault(index, {})

    n = args.commits
    # --- secrets that stay in the working tree --------------------------------------------
    head = {
        "aws-access-key-id": (".env.production", lambda: "AKIA" + g.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
        "aws-secret-access-key": (".env.production", lambda: g.pick(B64, 40)),
        "laravel-app-key": (".env.production", lambda: g.pick(B64, 43) + "="),
        "generic-password": (".env.production", lambda: g.pick(ALNUM, 14) + "!" + g.pick(ALNUM, 3)),
        "stripe-live-secret-key": ("config/services.php", lambda: "sk_live_" + g.pick(ALNUM, 24)),
        "github-token": ("scripts/deploy_release.py", lambda: "ghp_" + g.pick(ALNUM, 36)),
        "gitlab-token": (".gitlab-ci.yml", lambda: "glpat-" + g.pick(B64URL, 20)),
        "slack-webhook": ("resources/js/notify.js", lambda: f"https://hooks.slack.com/services/T{g.pick(UPPER, 8)}/B{g.pick(UPPER, 8)}/{g.pick(ALNUM, 24)}"),
        "slack-token": ("app/Services/SlackService.php", lambda: f"xoxb-{g.pick(string.digits, 12)}-{g.pick(string.digits, 13)}-{g.pick(ALNUM, 24)}"),
        "rsa-private-key": ("storage/oauth-private.key", lambda: g.pem("RSA PRIVATE KEY")),
        "openssh-private-key": ("deploy/id_ed25519", lambda: g.pem("OPENSSH PRIVATE KEY", 6)),
        "sendgrid-api-key": ("config/mail.php", lambda: f"SG.{g.pick(B64URL, 22)}.{g.pick(B64URL, 43)}"),
        "npm-token": (".npmrc", lambda: "npm_" + g.pick(ALNUM, 36)),
        "google-api-key": ("resources/js/maps.js", lambda: "AIza" + g.pick(B64URL, 35)),
        "database-url-password": ("config/database.php", lambda: g.pick(ALNUM, 18)),
        "twilio-api-key": ("app/Services/TwilioService.php", lambda: "SK" + g.pick(HEX, 32)),
        "openai-api-key": (
            "scripts/summarize.py",
            lambda: f"sk-proj-{g.pick(B64URL, 54)}{g.pick(ALNUM, 20)}T3BlbkFJ{g.pick(ALNUM, 20)}{g.pick(B64URL, 53)}{g.pick(ALNUM, 1)}",
        ),
        "gcp-service-account-key": ("storage/gcp-service-account.json", lambda: g.pem("PRIVATE KEY")),
        "jwt": ("tests/Feature/ApiAuthTest.php", lambda: g.jwt()),
        "shopify-token": ("config/shopify.php", lambda: "shpat_" + g.pick(HEX, 32)),
    }
    values = {kind: make() for kind, (_, make) in head.items()}
    env_production = (
        "APP_NAME=Shop\nAPP_ENV=production\n"
        f"APP_KEY=base64:{values['laravel-app-key']}\n"
        "DB_CONNECTION=pgsql\nDB_HOST=db.prod.internal\n"
        f"DB_PASSWORD={values['generic-password']}\n"
        f"AWS_ACCESS_KEY_ID={values['aws-access-key-id']}\n"
        f"AWS_SECRET_ACCESS_KEY={values['aws-secret-access-key']}\n"
    )
    head_files = {
        ".env.production": env_production,
        "config/services.php": f"<?php\n\nreturn [\n    'stripe' => [\n        'key' => env('STRIPE_KEY'),\n        'secret' => '{values['stripe-live-secret-key']}',\n    ],\n];\n",
        "scripts/deploy_release.py": f"import requests\n\nGITHUB_TOKEN = \"{values['github-token']}\"\nrequests.post('https://api.github.com/repos/shop/shop/releases', headers={{'Authorization': f'token {{GITHUB_TOKEN}}'}})\n",
        ".gitlab-ci.yml": f"deploy:\n  stage: deploy\n  variables:\n    GITLAB_TOKEN: {values['gitlab-token']}\n  script:\n    - ./deploy.sh\n",
        "resources/js/notify.js": f"const SLACK_HOOK = '{values['slack-webhook']}';\nexport const notify = (text) => fetch(SLACK_HOOK, {{ method: 'POST', body: JSON.stringify({{ text }}) }});\n",
        "app/Services/SlackService.php": f"<?php\n\nnamespace App\\Services;\n\nclass SlackService\n{{\n    private string $botToken = '{values['slack-token']}';\n}}\n",
        "storage/oauth-private.key": values["rsa-private-key"],
        "deploy/id_ed25519": values["openssh-private-key"],
        "config/mail.php": f"<?php\n\nreturn [\n    'driver' => 'sendgrid',\n    'sendgrid' => ['api_key' => '{values['sendgrid-api-key']}'],\n];\n",
        ".npmrc": f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={values['npm-token']}\n",
        "resources/js/maps.js": f"import {{ Loader }} from '@googlemaps/js-api-loader';\n\nconst loader = new Loader({{ apiKey: '{values['google-api-key']}', version: 'weekly' }});\n",
        "config/database.php": f"<?php\n\nreturn [\n    'default' => 'pgsql',\n    'connections' => ['pgsql' => ['url' => 'postgres://forge:{values['database-url-password']}@db.prod.internal:5432/forge']],\n];\n",
        "app/Services/TwilioService.php": f"<?php\n\nnamespace App\\Services;\n\nclass TwilioService\n{{\n    const API_KEY_SID = '{values['twilio-api-key']}';\n}}\n",
        "scripts/summarize.py": f"from openai import OpenAI\n\nclient = OpenAI(api_key=\"{values['openai-api-key']}\")\n",
        "tests/Feature/ApiAuthTest.php": f"<?php\n\nclass ApiAuthTest extends TestCase\n{{\n    public function test_token()\n    {{\n        $this->withToken('{values['jwt']}')->get('/api/me')->assertOk();\n    }}\n}}\n",
        "config/shopify.php": f"<?php\n\nreturn ['access_token' => '{values['shopify-token']}'];\n",
        "storage/gcp-service-account.json": json.dumps(
            {
                "type": "service_account",
                "project_id": "shop-prod",
                "private_key_id": g.pick(HEX, 40),
                "private_key": values["gcp-service-account-key"],
                "client_email": "deploy@shop-prod.iam.gserviceaccount.com",
                "client_id": g.pick(string.digits, 21),
            },
            indent=2,
        )
        + "\n",
    }
    # Spread over the history: each file lands in its own commit.
    for k, (path, content) in enumerate(head_files.items()):
        index = 5 + k * (n - 20) // len(head_files)
        at(index)[path] = content
        for kind, (kind_path, _) in head.items():
            if kind_path == path:
                plant(kind, path, content, values[kind], index)

    # --- secrets only in history ------------------------------------------------------------
    gone = {
        "aws-access-key-id": "AKIA" + g.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        "stripe-live-secret-key": "sk_live_" + g.pick(ALNUM, 24),
        "laravel-app-key": g.pick(B64, 43) + "=",
        "database-url-password": g.pick(ALNUM, 16),
        "rsa-private-key": g.pem("RSA PRIVATE KEY"),
        "slack-webhook": f"https://hooks.slack.com/services/T{g.pick(UPPER, 8)}/B{g.pick(UPPER, 8)}/{g.pick(ALNUM, 24)}",
        "github-token": "ghp_" + g.pick(ALNUM, 36),
        "digitalocean-token": "dop_v1_" + g.pick(HEX, 64),
    }
    old_env = f"APP_ENV=production\nAWS_ACCESS_KEY_ID={gone['aws-access-key-id']}\nSTRIPE_SECRET={gone['stripe-live-secret-key']}\n"
    at(20)[".env"] = old_env
    at(21)[".env"] = None
    plant("aws-access-key-id", ".env", old_env, gone["aws-access-key-id"], 20)
    plant("stripe-live-secret-key", ".env", old_env, gone["stripe-live-secret-key"], 20)
    app_with_key = STATIC_FILES["config/app.php"].replace("env('APP_KEY')", f"'base64:{gone['laravel-app-key']}'")
    at(40)["config/app.php"] = app_with_key
    at(41)["config/app.php"] = STATIC_FILES["config/app.php"]
    plant("laravel-app-key", "config/app.php", app_with_key, gone["laravel-app-key"], 40)
    backup = f"#!/bin/sh\npg_dump postgres://backup:{gone['database-url-password']}@db.prod.internal/shop > /backups/shop.sql\n"
    at(60)["scripts/backup.sh"] = backup
    at(90)["scripts/backup.sh"] = None
    plant("database-url-password", "scripts/backup.sh", backup, gone["database-url-password"], 60)
    at(75)["deploy/id_rsa"] = gone["rsa-private-key"]
    at(76)["deploy/id_rsa"] = None
    plant("rsa-private-key", "deploy/id_rsa", gone["rsa-private-key"], gone["rsa-private-key"], 75)
    hook = f"#!/bin/sh\ncurl -X POST -d '{{\"text\":\"deployed\"}}' {gone['slack-webhook']}\n"
    at(120)["scripts/notify.sh"] = hook
    at(121)["scripts/notify.sh"] = "#!/bin/sh\ncurl -X POST -d '{\"text\":\"deployed\"}' \"$SLACK_WEBHOOK\"\n"
    plant("slack-webhook", "scripts/notify.sh", hook, gone["slack-webhook"], 120)
    ci = f"name: release\non: push\nenv:\n  GH_TOKEN: {gone['github-token']}\n"
    at(150)[".github/workflows/release.yml"] = ci
    at(180)[".github/workflows/release.yml"] = None
    plant("github-token", ".github/workflows/release.yml", ci, gone["github-token"], 150)
    terraform = f"provider \"digitalocean\" {{\n  token = \"{gone['digitalocean-token']}\"\n}}\n"
    plant("digitalocean-token", "infra/main.tf", terraform, gone["digitalocean-token"], -1)

    # --- ordinary commits -------------------------------------------------------------------
    for index in range(1, n):
        changes = {}
        for p in later[(index - 1) * per_commit : index * per_commit]:
            changes[p] = makers[p](p)
        edited = g.r.sample(initial, 8)
        for p in edited:
            if not p.endswith(".png"):
                changes[p] = makers[p](p)
        changes.update(secret_commits.get(index, {}))
        commits.append((f"{g.word().capitalize()} {g.word()} changes (#{index})", changes, "main"))
    commits.append(("Try DigitalOcean", {"infra/main.tf": terraform}, "experiment"))

    # --- fast-import ------------------------------------------------------------------------
    stream = bytearray()
    for number, (message, changes, branch) in enumerate(commits, start=1):
        ts = 1_700_000_000 + number * 3600
        msg = message.encode()
        stream += f"commit refs/heads/{branch}\nmark :{number}\n".encode()
        stream += f"author Dev <dev@shop.test> {ts} +0000\ncommitter Dev <dev@shop.test> {ts} +0000\n".encode()
        stream += f"data {len(msg)}\n".encode() + msg + b"\n"
        if branch == "experiment":
            stream += f"from :{n // 2}\n".encode()
        elif number > 1:
            stream += f"from :{number - 1}\n".encode()
        for path, content in sorted(changes.items()):
            if content is None:
                stream += f"D {path}\n".encode()
                if branch == "main":
                    tree.pop(path, None)
            else:
                data = to_bytes(content)
                stream += f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
                if branch == "main":
                    tree[path] = data
        stream += b"\n"
    subprocess.run(["git", "-C", repo, "fast-import", "--quiet"], input=bytes(stream), check=True)
    subprocess.run(["git", "-C", repo, "checkout", "-q", "-f", "main"], check=True)
    subprocess.run(["git", "-C", repo, "gc", "-q"], check=True)
    shas = subprocess.run(
        ["git", "-C", repo, "log", "--reverse", "--format=%H", "main"], capture_output=True, text=True, check=True
    ).stdout.split()
    experiment = subprocess.run(["git", "-C", repo, "rev-parse", "experiment"], capture_output=True, text=True, check=True).stdout.strip()

    out = []
    for p in planted:
        # A private key by its BEGIN line (escaped as "\n" inside JSON, so not by its value).
        needle = p["value"].splitlines()[0]
        line = p["content"][: p["content"].index(needle)].count("\n") + 1
        current = tree.get(p["file"])
        at_head = current is not None and needle.encode() in current
        out.append(
            {
                "type": p["type"],
                "file": p["file"],
                "line": line,
                "commit": experiment if p["commit_index"] < 0 else shas[p["commit_index"]],
                "head": at_head,
                "head_line": current[: current.index(needle.encode())].count(b"\n") + 1 if at_head else None,
            }
        )
    with open(os.path.join(args.out, "planted.json"), "w") as f:
        json.dump(out, f, indent=2)
    size = sum(len(v) for v in tree.values())
    print(
        f"{len(tree)} files ({size / 2**20:.1f} MiB) at HEAD, {len(commits)} commits, "
        f"{sum(1 for p in out if p['head'])} secrets in the working tree, {sum(1 for p in out if not p['head'])} only in history"
    )


if __name__ == "__main__":
    main()
