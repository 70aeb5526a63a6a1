//! The generated report in a real browser: Debian's headless Chromium renders a week of realistic
//! data, the screenshot must show the charts' coloured bars, and the DOM Chromium built must hold
//! both SVG charts with one bar per alert type and per day.
//!
//! The screenshot is kept as `target/report-screenshot.png` for a person to look at.

mod reports_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use mspbridge_server::reports::charts::{DAY_COLOUR, PALETTE};
use mspbridge_server::reports::{self, GenerateRequest, ReportPeriod};
use reports_support::*;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Chromium is given this long to render before the test gives up on it.
const BROWSER_DEADLINE: Duration = Duration::from_secs(120);

/// A week of six alert types for Acme, ticket activity included, rendered to HTML.
async fn realistic_report() -> String {
    let store = memory_store().await;
    let config = config_for("http://127.0.0.1:9", "");
    seed_week(&store, "Acme").await;
    for day in 0..7 {
        for hour in 0..(day % 3 + 1) {
            seed_alert(
                &store,
                "Acme",
                "Failed Logon",
                day,
                &format!("CORP\\svc{hour}"),
                "WS-03",
            )
            .await;
        }
    }
    seed_alert(
        &store,
        "Acme",
        "Mailbox Permission Changed",
        2,
        "CORP\\carol",
        "EX-01",
    )
    .await;
    seed_alert(
        &store,
        "Acme",
        "Mailbox Permission Changed",
        4,
        "CORP\\carol",
        "EX-01",
    )
    .await;
    seed_alert(
        &store,
        "Acme",
        "<script>alert(1)</script>",
        5,
        "CORP\\mallory",
        "WS-66",
    )
    .await;
    seed_ticket_events(&store, "Acme").await;
    let end = start() + Span::days(7);
    let request = GenerateRequest {
        client: "Acme".into(),
        name: "Weekly Security Summary".into(),
        period: ReportPeriod::days_before(end, 7),
        expires_after: None,
    };
    let meta = reports::generate_report(store.as_ref(), &config, &request, end)
        .await
        .unwrap();
    store.get_report(meta.id).await.unwrap().unwrap().html
}

/// Runs Chromium headless with `args` and the report URL, killing it past the deadline.
fn chromium(profile: &Path, args: &[String], url: &str) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing; install Debian's chromium package (scripts/test does)"
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    // Reading stdout to the end would block on a hung browser, so wait with a deadline first.
    loop {
        if child.try_wait().expect("waiting for chromium").is_some() {
            break;
        }
        if started.elapsed() > BROWSER_DEADLINE {
            let _ = child.kill();
            panic!("chromium did not finish within {BROWSER_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("chromium output")
}

fn hex_colour(hex: &str) -> [u8; 3] {
    let value = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).unwrap();
    [value(1), value(3), value(5)]
}

/// The cargo target directory this test binary was built into (`target/debug/deps/<binary>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

#[test]
fn chromium_renders_the_report_with_its_charts() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let html = runtime.block_on(realistic_report());
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    // The screenshot: not blank, and the bars of both charts are there in their colours.
    let screenshot = dir.path().join("report.png");
    let output = chromium(
        &dir.path().join("profile-shot"),
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2000".to_string(),
        ],
        &url,
    );
    assert!(
        screenshot.exists(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let kept = target_dir().join("report-screenshot.png");
    std::fs::copy(&screenshot, &kept).expect("copying the screenshot into target/");
    println!(
        "report screenshot: {} (kept as {})",
        screenshot.display(),
        kept.display()
    );

    let mut decoder = png::Decoder::new(std::fs::File::open(&screenshot).unwrap());
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    assert!(
        channels >= 3,
        "expected a colour screenshot, got {:?}",
        frame.color_type
    );
    assert_eq!((frame.width, frame.height), (1280, 2000));
    let pixel = |x: u32, y: u32| {
        let at = (y as usize * frame.line_size) + x as usize * channels;
        [pixels[at], pixels[at + 1], pixels[at + 2]]
    };
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6);
    let mut distinct = std::collections::HashSet::new();
    let mut bar_pixels = vec![0u64; PALETTE.len()];
    for y in 0..frame.height {
        for x in 0..frame.width {
            let colour = pixel(x, y);
            distinct.insert(colour);
            for (index, hex) in PALETTE.iter().enumerate() {
                if near(colour, hex_colour(hex)) {
                    bar_pixels[index] += 1;
                }
            }
        }
    }
    assert!(
        distinct.len() > 50,
        "the page looks blank: {} colours",
        distinct.len()
    );
    let drawn = bar_pixels.iter().filter(|count| **count > 300).count();
    assert!(
        drawn >= 6,
        "expected the six alert-type bars in six palette colours, found pixels per colour {bar_pixels:?}"
    );
    let day_colour = PALETTE.iter().position(|c| *c == DAY_COLOUR).unwrap();
    assert!(
        bar_pixels[day_colour] > 5_000,
        "the per-day columns are missing: {bar_pixels:?}"
    );

    // The DOM as Chromium parsed it: two charts, one bar per type and one column per day, and the
    // hostile alert name as text, not as a script element.
    let output = chromium(
        &dir.path().join("profile-dom"),
        &["--dump-dom".to_string()],
        &url,
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    assert_eq!(dom.matches("<svg").count(), 2, "{dom}");
    assert_eq!(
        dom.matches(r#"class="bar""#).count(),
        6,
        "one bar per alert type"
    );
    assert_eq!(
        dom.matches(r#"class="bar day""#).count(),
        7,
        "one column per day"
    );
    assert!(
        !dom.contains("<script>"),
        "alert text must not become a script"
    );
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}
