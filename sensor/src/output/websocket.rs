//! WebSocket messages in sessions: each WebSocket connection's messages (both directions) are
//! added to its upgrade's session, shown as `websocket_messages` in the session records.

use apitap_exporters::ExportError;
use apitap_sessionizer::http::ConnKind;

use super::{OutputStats, Records, SessionCx, Stage};
use crate::staged::{Staged, StagedConn};

/// Counts WebSocket messages into sessions.
#[derive(Debug, Default)]
pub struct WebSocketMessages {
    /// Messages added to a session's state.
    counted: u64,
}

impl Stage for WebSocketMessages {
    fn transaction(
        &mut self,
        _now_us: u64,
        _item: &Staged,
        _session: Option<SessionCx<'_>>,
        _records: &mut Records,
    ) -> Result<(), ExportError> {
        Ok(())
    }

    fn connection(
        &mut self,
        _now_us: u64,
        conn: &StagedConn,
        session: Option<SessionCx<'_>>,
        _records: &mut Records,
    ) -> Result<(), ExportError> {
        let ConnKind::WebSocket(ws) = &conn.rec.kind else {
            return Ok(());
        };
        // The upgrade's session part, while it is still the open one.
        if let Some(SessionCx {
            state: Some(state), ..
        }) = session
        {
            let n = ws.summary.client.messages + ws.summary.server.messages;
            *state.websocket_messages.get_or_insert(0) += n;
            self.counted += n;
        }
        Ok(())
    }

    fn add_stats(&self, stats: &mut OutputStats) {
        stats.websocket_session_messages += self.counted;
    }
}
