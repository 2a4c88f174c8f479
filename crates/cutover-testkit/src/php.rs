//! Real PHP pages: PHP's built-in web server (`php -S`) on a loopback address, with production's
//! error settings (`display_errors` off, errors to a log, a 4 KiB output buffer, as php-fpm runs
//! with Debian's production php.ini), and the pages the checks' tests serve: a whole page, a page
//! cut short by a fatal error after 4 KB of output, and WordPress's own critical-error page.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's `wordpress` package, whose code renders [`WP_CRITICAL_ERROR`].
pub const WORDPRESS: &str = "/usr/share/wordpress";

/// Whether `php` (the CLI, which has the built-in server) is installed.
pub fn available() -> bool {
    crate::on_path("php")
}

/// Whether Debian's WordPress is installed, for [`WP_CRITICAL_ERROR`].
pub fn wordpress_available() -> bool {
    available() && Path::new(WORDPRESS).join("wp-includes/class-wp-fatal-error-handler.php").is_file()
}

/// A shop page of a little over 4 KB that ends as a document should.
pub const WHOLE: &str = r#"<?php
echo "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Shop</title></head>\n<body>\n";
for ($i = 0; $i < 64; $i++) {
    echo "<p>Product $i: " . str_repeat('lorem ipsum ', 5) . "</p>\n";
}
echo "<footer>v1</footer>\n</body>\n</html>\n";
"#;

/// The same page whose footer calls a function that does not exist, after more than 4 KB of
/// output (so the headers went out with a 200 before the fatal error): with `display_errors`
/// off, the page just stops, with no error text.
pub const CUT_SHORT: &str = r#"<?php
function theme_footer() {
    wp_footer_widgets_that_do_not_exist();
}
echo "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Shop</title></head>\n<body>\n";
for ($i = 0; $i < 64; $i++) {
    echo "<p>Product $i: " . str_repeat('lorem ipsum ', 5) . "</p>\n";
}
theme_footer();
echo "<footer>v2</footer>\n</body>\n</html>\n";
"#;

/// WordPress's critical-error page, rendered by WordPress itself (Debian's `wordpress`):
/// `WP_Fatal_Error_Handler`'s default template through `wp_die`, as a fatal error before any
/// output gives it (status 500).
pub const WP_CRITICAL_ERROR: &str = r#"<?php
define('ABSPATH', '/usr/share/wordpress/');
define('WPINC', 'wp-includes');
define('WP_CONTENT_DIR', ABSPATH . 'wp-content');
foreach (['version', 'compat', 'load', 'class-wp-error', 'plugin', 'functions', 'formatting', 'kses',
          'pomo/translations', 'l10n', 'link-template', 'general-template', 'class-wp-fatal-error-handler'] as $file) {
    require ABSPATH . WPINC . "/$file.php";
}
foreach (['html_type' => 'text/html', 'blog_charset' => 'UTF-8'] as $name => $value) {
    add_filter("pre_option_$name", fn() => $value);
}
$GLOBALS['wp_version'] = $wp_version;
$GLOBALS['locale'] = 'en_US';
$handler = new WP_Fatal_Error_Handler();
$template = new ReflectionMethod($handler, 'display_default_error_template');
$template->setAccessible(true);
$template->invoke($handler, ['type' => E_ERROR, 'message' => 'Uncaught Error', 'file' => __FILE__, 'line' => 1], false);
"#;

/// The same page printing PHP's own error text (`display_errors` on, as on a misconfigured
/// host): a 200 with `Fatal error` in the page, after 4 KB of output.
pub const DISPLAYED_FATAL: &str = r#"<?php
ini_set('display_errors', '1');
echo "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Shop</title></head>\n<body>\n";
for ($i = 0; $i < 64; $i++) {
    echo "<p>Product $i: " . str_repeat('lorem ipsum ', 5) . "</p>\n";
}
wp_footer_widgets_that_do_not_exist();
"#;

/// Laravel's own 500 page (`errors::500`, what a production app with `APP_DEBUG=false` shows
/// for an uncaught exception), rendered by Debian's php-laravel-framework's Blade from the
/// framework's view.
pub const LARAVEL_SERVER_ERROR: &str = r#"<?php
require '/usr/share/php/Illuminate/autoload.php';
use Illuminate\Container\Container;
$app = new Container;
Container::setInstance($app);
$app->instance('translator', new Illuminate\Translation\Translator(new Illuminate\Translation\ArrayLoader, 'en'));
$files = new Illuminate\Filesystem\Filesystem;
$compiled = __DIR__ . '/blade-cache';
@mkdir($compiled);
$blade = new Illuminate\View\Compilers\BladeCompiler($files, $compiled);
$engines = new Illuminate\View\Engines\EngineResolver;
$engines->register('blade', fn() => new Illuminate\View\Engines\CompilerEngine($blade, $files));
$finder = new Illuminate\View\FileViewFinder($files, []);
$finder->addNamespace('errors', '/usr/share/php/Illuminate/Foundation/Exceptions/views');
$views = new Illuminate\View\Factory($engines, $finder, new Illuminate\Events\Dispatcher($app));
$app->instance('view', $views);
http_response_code(500);
echo $views->make('errors::500', ['exception' => new RuntimeException('boom')])->render();
"#;

/// The exception page Laravel shows with `APP_DEBUG=true` and no Whoops installed (Debian has
/// none): Symfony's `HtmlErrorRenderer` in debug mode, as `Handler::renderExceptionWithSymfony`
/// calls it.
pub const SYMFONY_EXCEPTION: &str = r#"<?php
require '/usr/share/php/Symfony/Component/ErrorHandler/autoload.php';
http_response_code(500);
echo (new Symfony\Component\ErrorHandler\ErrorRenderer\HtmlErrorRenderer(true))
    ->render(new RuntimeException('SQLSTATE[HY000] [2002] Connection refused'))
    ->getAsString();
"#;

/// Whether Debian's php-laravel-framework (with Symfony's error handler) is installed, for
/// [`LARAVEL_SERVER_ERROR`] and [`SYMFONY_EXCEPTION`].
pub fn laravel_available() -> bool {
    available()
        && Path::new("/usr/share/php/Illuminate/Foundation/Exceptions/views/500.blade.php").is_file()
        && Path::new("/usr/share/php/Symfony/Component/ErrorHandler/autoload.php").is_file()
}

/// `php -S` serving a directory (or through a router script), stopped by its pid on drop.
#[derive(Debug)]
pub struct PhpServer {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    /// The pages [`PhpServer::pages`] wrote.
    root: Option<tempfile::TempDir>,
}

impl PhpServer {
    /// Serves `root` on `addr`:`port`, through `router` when given (a script that handles every
    /// request), and waits (up to 10 s) until it accepts.
    pub fn start(addr: IpAddr, port: u16, root: &Path, router: Option<&Path>) -> io::Result<PhpServer> {
        let dir = tempfile::Builder::new().prefix("cutover-php-").tempdir()?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let error_log = dir.path().join("php-errors.log");
        let addr = SocketAddr::from((addr, port));
        let mut cmd = Command::new("php");
        for setting in [
            "display_errors=0".to_string(),
            "display_startup_errors=0".into(),
            "log_errors=1".into(),
            format!("error_log={}", error_log.display()),
            "output_buffering=4096".into(),
        ] {
            cmd.arg("-d").arg(setting);
        }
        cmd.arg("-S").arg(addr.to_string()).arg("-t").arg(root);
        if let Some(router) = router {
            cmd.arg(router);
        }
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).spawn()?;
        let mut server = PhpServer { child, addr, dir, root: None };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                return Err(io::Error::other(format!("php -S exited ({status}): {}", server.log())));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("php -S does not accept on {addr}: {}", server.log())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// Serves each `(path, PHP source)` at exactly that path (`/`, `/wp-login.php`, `/up`) on a
    /// free port of `addr`; any other path is a 404.
    pub fn pages(addr: IpAddr, pages: &[(&str, &str)]) -> io::Result<PhpServer> {
        let root = tempfile::Builder::new().prefix("cutover-php-pages-").tempdir()?;
        let mut routes = String::new();
        for (i, (path, source)) in pages.iter().enumerate() {
            std::fs::write(root.path().join(format!("page{i}.php")), source)?;
            routes.push_str(&format!("    {path:?} => 'page{i}.php',\n"));
        }
        let router = format!(
            "<?php\n$pages = [\n{routes}];\n$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);\n\
             if (!isset($pages[$path])) {{ http_response_code(404); echo 'no such page'; return true; }}\n\
             require __DIR__ . '/' . $pages[$path];\n"
        );
        let router_path = root.path().join("router.php");
        std::fs::write(&router_path, router)?;
        let port = crate::nginx::free_port(addr);
        let mut server = PhpServer::start(addr, port, root.path(), Some(&router_path))?;
        server.root = Some(root);
        Ok(server)
    }

    /// `http://ADDR:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What the server logged (requests) and PHP's error log, for messages.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("server.log"), read("php-errors.log"))
    }

    /// PHP's error log: where a fatal error goes with `display_errors` off.
    pub fn error_log(&self) -> PathBuf {
        self.dir.path().join("php-errors.log")
    }
}

impl Drop for PhpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
