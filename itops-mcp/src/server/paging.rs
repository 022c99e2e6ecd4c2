//! Cursor pagination of the list methods. A cursor is the offset of the next page, which
//! is stable because a server's lists are fixed once built.

use rmcp::model::{ErrorData, PaginatedRequestParams};

/// One page of `items`, and the cursor of the next page if there is one.
pub(crate) fn page<T: Clone>(
    items: &[T],
    request: Option<&PaginatedRequestParams>,
    page_size: usize,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = match request.and_then(|r| r.cursor.as_deref()) {
        None => 0,
        Some(cursor) => decode(cursor, items.len())?,
    };
    let end = start.saturating_add(page_size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

fn decode(cursor: &str, len: usize) -> Result<usize, ErrorData> {
    match cursor.parse::<usize>() {
        Ok(offset) if offset <= len => Ok(offset),
        _ => Err(ErrorData::invalid_params(
            format!("invalid cursor '{cursor}': pass the nextCursor of the previous page"),
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(cursor: &str) -> PaginatedRequestParams {
        PaginatedRequestParams::default().with_cursor(Some(cursor.to_string()))
    }

    #[test]
    fn pages_walk_the_whole_list_once() {
        let items: Vec<u32> = (0..7).collect();
        let (first, next) = page(&items, None, 3).unwrap();
        assert_eq!(first, vec![0, 1, 2]);
        let (second, next) = page(&items, Some(&params(&next.unwrap())), 3).unwrap();
        assert_eq!(second, vec![3, 4, 5]);
        let (third, next) = page(&items, Some(&params(&next.unwrap())), 3).unwrap();
        assert_eq!(third, vec![6]);
        assert!(next.is_none());
    }

    #[test]
    fn a_list_that_fits_has_no_cursor() {
        let (all, next) = page(&[1, 2], None, 10).unwrap();
        assert_eq!(all, vec![1, 2]);
        assert!(next.is_none());
    }

    #[test]
    fn bad_cursors_are_invalid_params() {
        for cursor in ["x", "-1", "99"] {
            let err = page(&[1, 2, 3], Some(&params(cursor)), 2).unwrap_err();
            assert_eq!(err.code, rmcp::model::ErrorCode::INVALID_PARAMS);
            assert!(err.message.contains("invalid cursor"), "{}", err.message);
        }
    }
}
