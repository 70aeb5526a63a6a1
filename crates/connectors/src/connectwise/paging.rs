//! Reading the `Link` header that ConnectWise puts on list answers.
//!
//! Lists come back one page at a time with `Link: <…&page=2>; rel="next", <…>; rel="last"`
//! (NOTES §4). Only the query of the `next` link is used: the client keeps its own base URL and path,
//! so a link pointing at another host or an old codebase can never receive the credentials.

/// The query pairs of the `rel="next"` link among `values` (all `Link` header values), if any.
pub fn next_link_query(values: &[&str]) -> Option<Vec<(String, String)>> {
    values
        .iter()
        .flat_map(|value| split_links(value))
        .find(|(_, params)| is_rel_next(params))
        .map(|(target, _)| query_of(&target))
}

/// Splits one header value into `(target, params)` entries, honouring `<…>` and quoted strings so a
/// comma inside a URL or a parameter does not split an entry.
fn split_links(value: &str) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(end_offset) = rest[start..].find('>') else {
            break;
        };
        let end = start + end_offset;
        let target = rest[start + 1..end].trim().to_string();
        let after = &rest[end + 1..];
        let mut in_quotes = false;
        let mut params_end = after.len();
        for (index, c) in after.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => {
                    params_end = index;
                    break;
                }
                _ => {}
            }
        }
        entries.push((target, after[..params_end].to_string()));
        rest = &after[params_end..];
    }
    entries
}

fn is_rel_next(params: &str) -> bool {
    params.split(';').any(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
    })
}

fn query_of(target: &str) -> Vec<(String, String)> {
    let query = target.split_once('?').map_or("", |(_, query)| query);
    let query = query.split('#').next().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn finds_next_among_first_prev_last() {
        let header = r#"<https://h/v4_6_release/apis/3.0/company/companies?pageSize=2&page=1>; rel="first", <https://h/v4_6_release/apis/3.0/company/companies?pageSize=2&page=3>; rel="next", <https://h/v4_6_release/apis/3.0/company/companies?pageSize=2&page=9>; rel="last""#;
        assert_eq!(
            next_link_query(&[header]),
            Some(pairs(&[("pageSize", "2"), ("page", "3")]))
        );
    }

    #[test]
    fn no_next_means_the_last_page() {
        let header = r#"<https://h/x?page=1>; rel="first", <https://h/x?page=1>; rel="prev""#;
        assert_eq!(next_link_query(&[header]), None);
        assert_eq!(next_link_query(&[]), None);
    }

    #[test]
    fn commas_inside_urls_and_separate_header_values_are_handled() {
        let first = r#"<https://h/x?conditions=id%20in%20(1,2)&page=1>; rel="first""#;
        let second = r#"<https://h/x?conditions=id%20in%20(1,2)&pageId=40>; rel=next"#;
        assert_eq!(
            next_link_query(&[first, second]),
            Some(pairs(&[("conditions", "id in (1,2)"), ("pageId", "40")]))
        );
    }
}
