//! Lists a whole `/api/models` listing and reports records/s — used by
//! `bench/hub-list`. Usage: `list_all ENDPOINT [sort] [limit] [expand,...]`.
//! Prints one JSON line: {"records", "pages", "seconds", "records_per_s", "requests", "retries"}.

use cambrian_hub::{HubClient, HubConfig, ListQuery, PageCursor};
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args
        .get(1)
        .cloned()
        .ok_or("usage: list_all ENDPOINT [sort] [limit] [expand,...]")?;
    let q = ListQuery {
        sort: args.get(2).filter(|s| !s.is_empty()).cloned(),
        limit: Some(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000)),
        expand: args
            .get(4)
            .map(|s| {
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        ..Default::default()
    };
    let c = HubClient::new(HubConfig {
        endpoint,
        ..HubConfig::default()
    })?;
    let t = Instant::now();
    let mut cursor = PageCursor::First(q);
    let (mut n, mut pages) = (0usize, 0usize);
    loop {
        let p = c.list_page(&cursor).await?;
        n += p.models.len();
        pages += 1;
        match p.next {
            Some(u) => cursor = PageCursor::Next(u),
            None => break,
        }
    }
    let s = t.elapsed().as_secs_f64();
    let st = c.stats();
    println!(
        "{{\"records\":{n},\"pages\":{pages},\"seconds\":{s:.4},\"records_per_s\":{:.0},\"requests\":{},\"retries\":{},\"bytes\":{}}}",
        n as f64 / s,
        st.requests,
        st.retries,
        st.bytes_received
    );
    Ok(())
}
