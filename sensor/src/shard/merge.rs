//! The counters of several workers added up into one [`PipelineStats`].
//!
//! Each struct is destructured without `..`: a counter added to a stage is a compile error
//! here until it is summed too, so the sharded summary and metrics never silently miss it.

use apitap_reassembly::ReassemblyStats;
use apitap_sessionizer::http::HttpStats;
use apitap_sessionizer::http2::Http2Stats;

use super::worker::WorkerStats;
use crate::decode::{DecodeStats, FragStats, TunnelStats};
use crate::front::FrontStats;
use crate::output::OutputStats;
use crate::pipeline::PipelineStats;

/// `a.f += b.f` for every listed field, with `b` destructured exhaustively.
macro_rules! add_fields {
    ($a:expr, $b:expr, $T:ident { $($f:ident),* $(,)? } $(, $skip:ident)*) => {{
        let $T { $($f,)* $($skip: _,)* } = $b;
        $( $a.$f += *$f; )*
    }};
}

/// `a.f += b.f` for the listed fields only (the struct has fields merged elsewhere or not at
/// all).
macro_rules! add_some_fields {
    ($a:expr, $b:expr, { $($f:ident),* $(,)? }) => {{
        $( $a.$f += $b.$f; )*
    }};
}

/// Flat decode counters field by field, then the tunnel and fragment counters exhaustively.
fn add_decode(a: &mut DecodeStats, b: &DecodeStats) {
    add_some_fields!(
        a,
        b,
        {
            packets,
            bytes,
            tcp_segments,
            truncated_payloads,
            ip_length_mismatches,
            not_ip,
            udp,
            other_ip_protocol,
            ip_fragments,
            truncated_headers,
            malformed_link,
            malformed_ip,
            malformed_tcp,
        }
    );
    add_fields!(
        a.tunnels,
        &b.tunnels,
        TunnelStats {
            vxlan,
            geneve,
            gre,
            erspan,
            gtp_u,
            teredo,
            ayiya,
            ip_in_ip,
            truncated,
            malformed,
            control,
            depth_exceeded,
            zone_table_resets,
        }
    );
    add_fields!(
        a.fragments,
        &b.fragments,
        FragStats {
            received,
            reassembled,
            overlaps,
            overlap_mismatches,
            timed_out,
            evicted,
            invalid,
            truncated,
        }
    );
}

fn add_reassembly(a: &mut ReassemblyStats, b: &ReassemblyStats) {
    add_fields!(
        a,
        b,
        ReassemblyStats {
            segments,
            payload_bytes,
            flows_opened,
            flows_closed,
            flows_evicted,
            flows_idle_closed,
            mid_stream_pickups,
            orphan_segments,
            late_segments,
            bytes_delivered,
            gaps,
            gap_bytes,
            retransmitted_segments,
            retransmission_mismatches,
            ooo_segments,
            stream_buffer_limit_hits,
            global_buffer_limit_hits,
            out_of_window_segments,
            flows_reused,
        }
    );
}

fn add_http(a: &mut HttpStats, b: &HttpStats) {
    add_fields!(
        a,
        b,
        HttpStats {
            connections,
            reoriented_connections,
            switched_connections,
            transactions,
            requests,
            responses,
            interim_responses,
            unmatched_responses,
            unmatched_interim_responses,
            requests_without_response,
            gaps,
            gap_bytes,
            gap_bytes_in_bodies,
            desyncs,
            resyncs,
            desync_skipped_bytes,
            stalls,
            pickup_tails,
            opaque_bytes,
            heads_cut_by_close,
            events_unknown_conn,
            object_nouns_dropped,
            not_http_connections,
            not_http_bytes,
            sniff_fallbacks,
            http2_connections,
            websocket_connections,
            websocket_messages,
            tls_connections,
            tls_joined_late,
            tls_decrypted_connections,
            tunnels,
            opaque_tunnels,
            memory_evictions,
            memory_evicted_bytes,
            // Summed over workers: at most what they held at once.
            held_bytes_peak,
        },
        anomalies
    );
    for (x, y) in a.anomalies.iter_mut().zip(b.anomalies.iter()) {
        *x += *y;
    }
}

fn add_http2(a: &mut Http2Stats, b: &Http2Stats) {
    add_fields!(
        a,
        b,
        Http2Stats {
            prefaces,
            frames,
            data_frames,
            data_bytes,
            header_blocks,
            settings_frames,
            ping_frames,
            window_update_frames,
            priority_frames,
            push_promises,
            rst_streams,
            goaways,
            unknown_frames,
            frame_errors,
            frames_on_closed_streams,
            streams,
            exchanges,
            stream_limit_evictions,
            hpack_unknown_fields,
            hpack_errors,
            hpack_evictions,
            hpack_size_updates,
            hpack_capped_size_updates,
            hpack_state_resets,
            header_fields_over_limit,
            header_blocks_too_large,
            gaps,
            gap_bytes,
            gap_bytes_in_frames,
            desyncs,
            resyncs,
            desync_skipped_bytes,
            grpc_calls,
            grpc_messages,
        },
        anomalies
    );
    for (x, y) in a.anomalies.iter_mut().zip(b.anomalies.iter()) {
        *x += *y;
    }
}

/// Every worker's counters plus the output stages', as one pipeline's.
pub fn merge(workers: &[WorkerStats], output: OutputStats) -> PipelineStats {
    let mut front = FrontStats::default();
    for w in workers {
        let w = &w.front;
        add_decode(&mut front.decode, &w.decode);
        add_reassembly(&mut front.reassembly, &w.reassembly);
        add_http(&mut front.http, &w.http);
        add_http2(&mut front.http2, &w.http2);
        front.active_flows += w.active_flows;
    }
    PipelineStats::of(front, output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up() {
        let mut w = WorkerStats::default();
        w.front.decode.packets = 3;
        w.front.decode.tunnels.vxlan = 2;
        w.front.decode.fragments.reassembled = 1;
        w.front.reassembly.gaps = 2;
        w.front.http.transactions = 5;
        w.front.http.anomalies[0] = 1;
        w.front.active_flows = 4;
        let s = merge(&[w.clone(), w], OutputStats::default());
        assert_eq!(s.front.decode.packets, 6);
        assert_eq!(s.front.decode.tunnels.vxlan, 4);
        assert_eq!(s.front.decode.fragments.reassembled, 2);
        assert_eq!(s.front.reassembly.gaps, 4);
        assert_eq!(s.front.http.transactions, 10);
        assert_eq!(s.front.http.anomalies[0], 2);
        assert_eq!(s.front.active_flows, 8);
    }
}
