#!/usr/bin/env python3
"""Writes a mariadb-dump-shaped dump of a content-heavy WordPress site, for bench/db_rewrite.sh.

The shape follows what mariadb-dump writes (its header, DROP/CREATE TABLE, LOCK TABLES, extended
INSERTs of about 1 MB a line, its string escaping) and what WordPress stores:

* wp_posts (about 70% of the bytes): block-editor HTML with links and images on the staging URL
  a few times a post, escaped quotes and newlines; every post also has revisions;
* wp_postmeta (about 20%): attachment paths, PHP-serialized attachment metadata and link lists,
  Elementor-like JSON with escaped slashes (`https:\\/\\/…`), menu item URLs;
* wp_comments (about 7%) and wp_options (about 3%: siteurl, home, serialized widgets and theme
  mods holding the URL, JSON transients, big serialized arrays without it).

With `--url-encoded`, also URL-encoded forms of the URL, as PHP's `rawurlencode` writes them:
share links in postmeta (`_share_url`, on about a third of the posts) and a login redirect and a
newsletter form in wp_options (bench/db_rewrite.sh's figures were taken without them).

Usage: gen_wp_dump.py --size-mb 400 --out dump.sql [--url https://staging.example.test] [--url-encoded]
(`--out -` writes to stdout.) Deterministic for a given size and seed. Prints the bytes written
and the share of them that is the URL.
"""

import argparse
import json
import random
import sys
import urllib.parse

WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex "
    "ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur "
    "excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est "
    "garden kitchen recipe travel summer winter coffee morning review guide update release photo story "
    "café naïve résumé über straße 東京 😀"
).split()

SLUGS = [
    "about", "contact", "blog", "shop", "services", "team", "news", "events", "faq", "gallery",
    "2023/05/summer-recipes", "2024/01/winter-guide", "category/travel", "tag/coffee", "product/mug",
]


def mysql_escape(s):
    """mariadb-dump's escaping of a string value (without the quotes)."""
    return (
        s.replace("\\", "\\\\")
        .replace("\0", "\\0")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\x1a", "\\Z")
        .replace("'", "\\'")
        .replace('"', '\\"')
    )


def php_serialize(v):
    """PHP's serialize() for str, int, bool, None, float, list and dict."""
    if v is None:
        return "N;"
    if isinstance(v, bool):
        return "b:%d;" % v
    if isinstance(v, int):
        return "i:%d;" % v
    if isinstance(v, float):
        return "d:%r;" % v
    if isinstance(v, str):
        return 's:%d:"%s";' % (len(v.encode("utf-8")), v)
    items = enumerate(v) if isinstance(v, list) else v.items()
    body = "".join(php_serialize(k) + php_serialize(x) for k, x in items)
    return "a:%d:{%s}" % (len(v), body)


def rawurlencode(s):
    """PHP's rawurlencode(): everything but letters, digits and `-_.~` as %XX."""
    return urllib.parse.quote(s, safe="-_.~")


def php_json(v):
    """PHP's json_encode() defaults: escaped slashes and \\uXXXX for non-ASCII."""
    return json.dumps(v, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


class Gen:
    def __init__(self, url, seed):
        self.url = url
        self.r = random.Random(seed)
        r = self.r
        self.sentences = [self.sentence() for _ in range(600)]
        # Blocks of post content, raw (escaped when written).
        self.paragraphs = []
        for _ in range(400):
            text = " ".join(r.choice(self.sentences) for _ in range(r.randint(2, 7)))
            if r.random() < 0.35:
                link = '<a href="%s/%s/">%s</a>' % (url, r.choice(SLUGS), r.choice(WORDS))
                words = text.split(" ")
                words.insert(r.randrange(len(words)), link)
                text = " ".join(words)
            if r.random() < 0.15:
                text += " It's \"quoted\" — and that's fine."
            self.paragraphs.append("<!-- wp:paragraph -->\n<p>%s</p>\n<!-- /wp:paragraph -->\n\n" % text)
        self.headings = [
            '<!-- wp:heading -->\n<h2 class="wp-block-heading">%s</h2>\n<!-- /wp:heading -->\n\n'
            % self.sentence().rstrip(".")
            for _ in range(100)
        ]
        self.images = []
        for i in range(300):
            path = "wp-content/uploads/20%02d/%02d/photo-%d-1024x683.jpg" % (r.randint(18, 24), r.randint(1, 12), i)
            self.images.append(
                '<!-- wp:image {"id":%d,"sizeSlug":"large","linkDestination":"none"} -->\n'
                '<figure class="wp-block-image size-large"><img src="%s/%s" alt="%s" class="wp-image-%d"/>'
                "<figcaption>%s</figcaption></figure>\n<!-- /wp:image -->\n\n"
                % (i, url, path, r.choice(WORDS), i, self.sentence())
            )
        self.lists = [
            "<!-- wp:list -->\n<ul>%s</ul>\n<!-- /wp:list -->\n\n"
            % "".join("<li>%s</li>" % self.sentence() for _ in range(r.randint(3, 8)))
            for _ in range(80)
        ]

    def sentence(self):
        r = self.r
        words = [r.choice(WORDS) for _ in range(r.randint(6, 18))]
        return " ".join(words).capitalize() + "."

    def post_content(self):
        r = self.r
        blocks = []
        for _ in range(r.randint(6, 30)):
            x = r.random()
            if x < 0.62:
                blocks.append(r.choice(self.paragraphs))
            elif x < 0.75:
                blocks.append(r.choice(self.headings))
            elif x < 0.90:
                blocks.append(r.choice(self.images))
            else:
                blocks.append(r.choice(self.lists))
        return "".join(blocks)


def values(row):
    """One row of an extended INSERT."""
    out = []
    for v in row:
        if v is None:
            out.append("NULL")
        elif isinstance(v, int):
            out.append(str(v))
        else:
            out.append("'" + mysql_escape(v) + "'")
    return "(" + ",".join(out) + ")"


HEADER = """/*M!999999\\- enable the sandbox mode */ 
-- MariaDB dump 10.19-11.4.2-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: wordpress
-- ------------------------------------------------------
-- Server version\t11.4.2-MariaDB-deb12

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;
"""

FOOTER = """/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*M!100616 SET NOTE_VERBOSITY=@OLD_NOTE_VERBOSITY */;

-- Dump completed on 2025-03-14 10:22:31
"""

SCHEMAS = {
    "wp_options": """  `option_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `option_name` varchar(191) NOT NULL DEFAULT '',
  `option_value` longtext NOT NULL,
  `autoload` varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (`option_id`),
  UNIQUE KEY `option_name` (`option_name`),
  KEY `autoload` (`autoload`)""",
    "wp_posts": """  `ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `post_author` bigint(20) unsigned NOT NULL DEFAULT 0,
  `post_date` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `post_date_gmt` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `post_content` longtext NOT NULL,
  `post_title` text NOT NULL,
  `post_excerpt` text NOT NULL,
  `post_status` varchar(20) NOT NULL DEFAULT 'publish',
  `comment_status` varchar(20) NOT NULL DEFAULT 'open',
  `ping_status` varchar(20) NOT NULL DEFAULT 'open',
  `post_password` varchar(255) NOT NULL DEFAULT '',
  `post_name` varchar(200) NOT NULL DEFAULT '',
  `to_ping` text NOT NULL,
  `pinged` text NOT NULL,
  `post_modified` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `post_modified_gmt` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `post_content_filtered` longtext NOT NULL,
  `post_parent` bigint(20) unsigned NOT NULL DEFAULT 0,
  `guid` varchar(255) NOT NULL DEFAULT '',
  `menu_order` int(11) NOT NULL DEFAULT 0,
  `post_type` varchar(20) NOT NULL DEFAULT 'post',
  `post_mime_type` varchar(100) NOT NULL DEFAULT '',
  `comment_count` bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (`ID`),
  KEY `post_name` (`post_name`(191)),
  KEY `type_status_date` (`post_type`,`post_status`,`post_date`,`ID`),
  KEY `post_parent` (`post_parent`),
  KEY `post_author` (`post_author`)""",
    "wp_postmeta": """  `meta_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `post_id` bigint(20) unsigned NOT NULL DEFAULT 0,
  `meta_key` varchar(255) DEFAULT NULL,
  `meta_value` longtext DEFAULT NULL,
  PRIMARY KEY (`meta_id`),
  KEY `post_id` (`post_id`),
  KEY `meta_key` (`meta_key`(191))""",
    "wp_comments": """  `comment_ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `comment_post_ID` bigint(20) unsigned NOT NULL DEFAULT 0,
  `comment_author` tinytext NOT NULL,
  `comment_author_email` varchar(100) NOT NULL DEFAULT '',
  `comment_author_url` varchar(200) NOT NULL DEFAULT '',
  `comment_author_IP` varchar(100) NOT NULL DEFAULT '',
  `comment_date` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `comment_date_gmt` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `comment_content` text NOT NULL,
  `comment_karma` int(11) NOT NULL DEFAULT 0,
  `comment_approved` varchar(20) NOT NULL DEFAULT '1',
  `comment_agent` varchar(255) NOT NULL DEFAULT '',
  `comment_type` varchar(20) NOT NULL DEFAULT 'comment',
  `comment_parent` bigint(20) unsigned NOT NULL DEFAULT 0,
  `user_id` bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (`comment_ID`),
  KEY `comment_post_ID` (`comment_post_ID`)""",
}


class Writer:
    def __init__(self, f, url):
        self.f = f
        self.n = 0
        self.urls = 0
        self.url = url
        self.encoded = rawurlencode(url)

    def write(self, s):
        b = s.encode("utf-8")
        self.f.write(b)
        self.n += len(b)

    def table(self, name, rows, line_bytes=1_000_000):
        """DROP/CREATE TABLE and the rows as extended INSERTs of about `line_bytes` a line."""
        self.write(
            "\n--\n-- Table structure for table `%s`\n--\n\nDROP TABLE IF EXISTS `%s`;\n"
            "/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
            "/*!40101 SET character_set_client = utf8mb4 */;\nCREATE TABLE `%s` (\n%s\n"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;\n"
            "/*!40101 SET character_set_client = @saved_cs_client */;\n\n"
            "--\n-- Dumping data for table `%s`\n--\n\nLOCK TABLES `%s` WRITE;\n"
            "/*!40000 ALTER TABLE `%s` DISABLE KEYS */;\n" % (name, name, name, SCHEMAS[name], name, name, name)
        )
        prefix = "INSERT INTO `%s` VALUES " % name
        line, size = [], 0
        for row in rows:
            v = values(row)
            self.urls += v.count(self.url) + v.count(self.url.replace("/", "\\\\/")) + v.count(self.encoded)
            if line and size + len(v) > line_bytes:
                self.write(prefix + ",".join(line) + ";\n")
                line, size = [], 0
            line.append(v)
            size += len(v) + 1
        if line:
            self.write(prefix + ",".join(line) + ";\n")
        self.write("/*!40000 ALTER TABLE `%s` ENABLE KEYS */;\nUNLOCK TABLES;\n" % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=400)
    ap.add_argument("--out", required=True)
    ap.add_argument("--url", default="https://staging.example.test")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--url-encoded", action="store_true")
    args = ap.parse_args()
    target = int(args.size_mb * 1_000_000)
    url = args.url
    g = Gen(url, args.seed)
    r = g.r

    # Post bodies are drawn once into a pool and reused (with their revisions), which keeps the
    # generator fast; rows still differ in IDs, titles, dates and metadata. A post has one
    # revision on average; its ID is 3*i+1, its revisions' 3*i+2 and 3*i+3.
    pool = [g.post_content() for _ in range(1500)]
    average = sum(len(mysql_escape(c).encode("utf-8")) for c in pool) / len(pool)
    n_posts = max(10, int(target * 0.72 / (2 * (average + 420))))

    def comments():  # ~7%
        budget = target * 0.07
        cid = 0
        while budget > 0:
            cid += 1
            content = " ".join(r.choice(g.sentences) for _ in range(r.randint(1, 6)))
            if r.random() < 0.2:
                content += ' See <a href="%s/%s/">this</a>.' % (url, r.choice(SLUGS))
            author_url = "%s/author/%s/" % (url, r.choice(WORDS)) if r.random() < 0.3 else ""
            budget -= len(content) + 260
            yield (cid, 3 * r.randrange(n_posts) + 1, r.choice(WORDS).capitalize(), "someone%d@example.org" % cid,
                   author_url, "192.0.2.%d" % (cid % 250), "2024-03-01 10:00:00", "2024-03-01 09:00:00", content,
                   0, "1", "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0", "comment", 0, 0)

    def options():  # ~3%
        oid = 0

        def opt(name, value, autoload="yes"):
            nonlocal oid
            oid += 1
            return (oid, name, value, autoload)

        yield opt("siteurl", url)
        yield opt("home", url)
        yield opt("blogname", "Staging — It's a site")
        yield opt("upload_path", "")
        widgets = {i: {"title": g.sentence(), "text": r.choice(g.paragraphs), "filter": True, "visual": True}
                   for i in range(2, 12)}
        widgets["_multiwidget"] = 1
        yield opt("widget_text", php_serialize(widgets))
        header = url + "/wp-content/uploads/2024/01/header.jpg"
        yield opt("theme_mods_twentytwentyfour", php_serialize({
            "custom_logo": 12, "header_image": header,
            "header_image_data": {"attachment_id": 13, "url": header, "height": 600, "width": 1600,
                                  "thumbnail_url": url + "/wp-content/uploads/2024/01/header-150x150.jpg"},
            "nav_menu_locations": {"primary": 2, "footer": 3}}))
        if args.url_encoded:
            yield opt("login_redirect", "%s/wp-login.php?redirect_to=%s" % (url, rawurlencode(url + "/wp-admin/")))
            yield opt("newsletter_form", php_serialize({
                "action": "https://lists.example.org/subscribe?return=%s" % rawurlencode(url + "/thanks/"),
                "label": g.sentence()}))
        budget = target * 0.03
        k = 0
        while budget > 0:
            k += 1
            x = r.random()
            if x < 0.4:
                rules = {"^%s/([^/]+)/page/?([0-9]{1,})/?$" % r.choice(SLUGS) + str(j):
                         "index.php?name=$matches[1]&paged=$matches[2]" for j in range(40)}
                row = opt("plugin_rules_%d" % k, php_serialize(rules))
            elif x < 0.7:
                row = opt("_transient_feed_%d" % k, php_json({
                    "url": "%s/%s/" % (url, r.choice(SLUGS)), "fetched": 1700000000 + k,
                    "body": r.choice(g.paragraphs)}), "no")
            else:
                row = opt("plugin_settings_%d" % k, php_serialize({
                    "links": ["%s/%s/" % (url, r.choice(SLUGS)) for _ in range(5)],
                    "label": g.sentence(), "count": k}))
            budget -= len(row[2]) + 60
            yield row

    def postmeta():  # ~20%
        mid = 0
        for i in range(n_posts):
            post_id = 3 * i + 1
            rows = []

            def meta(key, value):
                nonlocal mid
                mid += 1
                rows.append((mid, post_id, key, value))

            meta("_edit_lock", "1700000000:1")
            meta("_thumbnail_id", str(r.randint(1, 300)))
            path = "20%02d/%02d/photo-%d.jpg" % (r.randint(18, 24), r.randint(1, 12), i)
            meta("_wp_attached_file", path)
            meta("_wp_attachment_metadata", php_serialize({
                "width": 2048, "height": 1365, "file": path, "filesize": 512000 + i,
                "sizes": {s: {"file": "photo-%d-%s.jpg" % (i, d), "width": int(d.split("x")[0]),
                              "height": int(d.split("x")[1]), "mime-type": "image/jpeg", "filesize": 20000 + i}
                          for s, d in (("medium", "300x200"), ("large", "1024x683"), ("thumbnail", "150x150"))},
                "image_meta": {"aperture": "0", "credit": "", "camera": "", "caption": "", "copyright": "",
                               "title": "", "orientation": "0", "keywords": []}}))
            if r.random() < 0.8:
                meta("_elementor_data", php_json([{
                    "id": "%07x" % i, "elType": "section",
                    "settings": {"background_image": {"url": "%s/wp-content/uploads/%s" % (url, path), "id": 12}},
                    "elements": [{"id": "a%06x" % i, "elType": "widget", "widgetType": "text-editor",
                                  "settings": {"editor": "".join(r.choice(g.paragraphs) for _ in range(6))}}]}]))
            if r.random() < 0.3:
                meta("_menu_item_url", "%s/%s/" % (url, r.choice(SLUGS)))
            if r.random() < 0.5:
                meta("_related_links", php_serialize(
                    [{"url": "%s/%s/" % (url, r.choice(SLUGS)), "title": g.sentence()} for _ in range(3)]))
            if r.random() < 0.5:
                meta("_yoast_wpseo_metadesc", g.sentence() + " " + g.sentence())
            if args.url_encoded and r.random() < 0.35:
                meta("_share_url", "https://www.facebook.com/sharer/sharer.php?u=%s"
                     % rawurlencode("%s/%s/" % (url, r.choice(SLUGS))))
            yield from rows

    def posts():  # ~70%
        for i in range(n_posts):
            post_id = 3 * i + 1
            content = pool[i % len(pool)]
            title = g.sentence().rstrip(".")
            slug = "-".join(title.lower().split()[:5])
            date = "20%02d-%02d-%02d 10:%02d:00" % (r.randint(18, 24), r.randint(1, 12), r.randint(1, 28), i % 60)
            yield (post_id, 1, date, date, content, title, "", "publish", "open", "open", "", slug, "", "",
                   date, date, "", 0, "%s/?p=%d" % (url, post_id), 0, "post", "", r.randint(0, 9))
            for rev in range(r.choice((0, 1, 1, 2))):
                pid = post_id + 1 + rev
                yield (pid, 1, date, date, content, title, "", "inherit", "closed", "closed", "",
                       "%d-revision-v1" % post_id, "", "", date, date, "", post_id,
                       "%s/?p=%d" % (url, pid), 0, "revision", "", 0)

    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb", buffering=1 << 20)
    with out as f:
        w = Writer(f, url)
        w.write(HEADER)
        # In mariadb-dump's order: by table name.
        w.table("wp_comments", comments())
        w.table("wp_options", options())
        w.table("wp_postmeta", postmeta())
        w.table("wp_posts", posts())
        w.write(FOOTER)

    share = 100.0 * w.urls * len(url) / max(w.n, 1)
    print("wrote %d bytes (%.1f MB): %d URL occurrences, %.2f%% of the bytes" % (w.n, w.n / 1e6, w.urls, share),
          file=sys.stderr)


if __name__ == "__main__":
    main()
