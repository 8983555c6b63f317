//! Listing queries (`GET /api/models`) and paging cursors.

use url::Url;

/// The parameters of `GET /api/models`. Empty/`None` parameters are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListQuery {
    /// Substring of the model id.
    pub search: Option<String>,
    pub author: Option<String>,
    /// Tags that must all be present (repeatable `filter`).
    pub filter: Vec<String>,
    pub pipeline_tag: Option<String>,
    /// `likes`, `downloads`, `trendingScore`, `createdAt`, `lastModified`, `id`…
    pub sort: Option<String>,
    /// `-1` descending (the Hub's default when `sort` is given), `1` ascending.
    pub direction: Option<i8>,
    /// Page size (the Hub caps it at 1000). Not part of [`ListQuery::canonical`].
    pub limit: Option<u32>,
    /// Fields to expand (repeatable `expand[]`).
    pub expand: Vec<String>,
}

impl ListQuery {
    /// The query parameters, in a fixed order, as sent to the Hub.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(s) = &self.search {
            p.push(("search", s.clone()));
        }
        if let Some(a) = &self.author {
            p.push(("author", a.clone()));
        }
        for f in &self.filter {
            p.push(("filter", f.clone()));
        }
        if let Some(t) = &self.pipeline_tag {
            p.push(("pipeline_tag", t.clone()));
        }
        if let Some(s) = &self.sort {
            p.push(("sort", s.clone()));
        }
        if let Some(d) = self.direction {
            p.push(("direction", d.to_string()));
        }
        if let Some(l) = self.limit {
            p.push(("limit", l.to_string()));
        }
        for e in &self.expand {
            p.push(("expand[]", e.clone()));
        }
        p
    }

    /// A stable string identifying the logical listing, used as a snapshot
    /// key: `key=value` pairs percent-encoded, sorted by key then value
    /// (the order of `filter` and `expand` values does not matter),
    /// duplicates removed, joined by `&`. `limit` is left out because the
    /// page size does not change which records the listing holds.
    pub fn canonical(&self) -> String {
        let mut pairs: Vec<(String, String)> = self
            .params()
            .into_iter()
            .filter(|(k, _)| *k != "limit")
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        pairs.sort();
        pairs.dedup();
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        ser.finish()
    }

    /// The full URL of the first page under `endpoint`.
    pub fn first_page_url(&self, endpoint: &Url) -> Url {
        let mut u = endpoint.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push("api").push("models");
        }
        {
            let params = self.params();
            if !params.is_empty() {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, &v);
                }
            }
        }
        u
    }
}

/// Where a listing page starts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PageCursor {
    /// The first page of a query.
    First(ListQuery),
    /// An absolute URL taken from a `Link: <…>; rel="next"` header.
    Next(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_canonical() {
        let q = ListQuery {
            search: Some("llama 3".into()),
            filter: vec!["text-generation".into(), "license:mit".into()],
            sort: Some("likes".into()),
            direction: Some(-1),
            limit: Some(100),
            expand: vec!["safetensors".into(), "cardData".into()],
            ..Default::default()
        };
        let u = q.first_page_url(&Url::parse("http://127.0.0.1:9/").unwrap());
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/api/models?search=llama+3&filter=text-generation&filter=license%3Amit&sort=likes&direction=-1&limit=100&expand%5B%5D=safetensors&expand%5B%5D=cardData"
        );
        let c = q.canonical();
        assert_eq!(
            c,
            "direction=-1&expand%5B%5D=cardData&expand%5B%5D=safetensors&filter=license%3Amit&filter=text-generation&search=llama+3&sort=likes"
        );
        let mut q2 = q.clone();
        q2.filter.reverse();
        q2.expand.reverse();
        q2.limit = Some(1000);
        assert_eq!(q2.canonical(), c);
        assert_eq!(ListQuery::default().canonical(), "");
    }
}
