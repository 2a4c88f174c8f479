<?php
/**
 * WordPress configuration, written by `cutover init --preset wordpress`.
 *
 * Nothing secret is here: every value comes from the `.env` beside this file, which cutover
 * renders on each host from the environment's committed template (`.env.production.template`)
 * and links into each release, so a rollback brings back the values its release ran with.
 * Values the web server's environment sets win over the file's. Salts and keys are generated
 * by `cutover secrets rotate`.
 */

/** The value of `$key`: the web server's environment, else the `.env`, else `$default`. */
function cutover_env(string $key, ?string $default = null): ?string
{
    static $vars = null;
    if ($vars === null) {
        $vars = [];
        $lines = @file(__DIR__ . '/.env', FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES);
        foreach ($lines === false ? [] : $lines as $line) {
            $line = trim($line);
            if ($line === '' || $line[0] === '#' || strpos($line, '=') === false) {
                continue;
            }
            [$name, $value] = array_map('trim', explode('=', $line, 2));
            if (strncmp($name, 'export ', 7) === 0) {
                $name = trim(substr($name, 7));
            }
            $quote = $value[0] ?? '';
            if (($quote === '"' || $quote === "'") && strlen($value) >= 2 && substr($value, -1) === $quote) {
                $value = substr($value, 1, -1);
                if ($quote === '"') {
                    $value = strtr($value, ['\\n' => "\n", '\\"' => '"', '\\\\' => '\\']);
                }
            } elseif (($hash = strpos($value, ' #')) !== false) {
                $value = rtrim(substr($value, 0, $hash));
            }
            $vars[$name] = $value;
        }
    }
    $from_server = getenv($key);
    if ($from_server !== false && $from_server !== '') {
        return $from_server;
    }
    return $vars[$key] ?? $default;
}

define('DB_NAME', cutover_env('DB_NAME'));
define('DB_USER', cutover_env('DB_USER'));
define('DB_PASSWORD', cutover_env('DB_PASSWORD'));
define('DB_HOST', cutover_env('DB_HOST', 'localhost'));
define('DB_CHARSET', cutover_env('DB_CHARSET', 'utf8mb4'));
define('DB_COLLATE', cutover_env('DB_COLLATE', ''));

foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
          'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $cutover_salt) {
    define($cutover_salt, cutover_env($cutover_salt, ''));
}

if (cutover_env('WP_HOME') !== null) {
    define('WP_HOME', cutover_env('WP_HOME'));
    define('WP_SITEURL', cutover_env('WP_SITEURL', cutover_env('WP_HOME')));
}
define('WP_ENVIRONMENT_TYPE', cutover_env('WP_ENVIRONMENT_TYPE', 'production'));
define('WP_DEBUG', filter_var(cutover_env('WP_DEBUG', 'false'), FILTER_VALIDATE_BOOLEAN));
define('WP_DEBUG_DISPLAY', false);
// Code changes arrive by deploy, not through the dashboard.
define('DISALLOW_FILE_EDIT', true);

$table_prefix = cutover_env('DB_TABLE_PREFIX', 'wp_');

unset($cutover_salt);

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
