//! The messages between the parent and the PAC worker process: a 4-byte big-endian
//! length followed by that many bytes of JSON, over the worker's stdin and stdout.
//! Every frame is bounded in size; an oversized or malformed frame ends the
//! conversation (the parent then kills the worker).

use std::io::{Read, Write};
use std::net::IpAddr;

use netcore::FamilyType;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::clock::ClockReading;

/// The largest frame the parent sends (a script of at most 1 MiB, JSON-escaped, fits).
pub const MAX_TO_WORKER_BYTES: usize = 8 * 1024 * 1024;
/// The largest frame the worker sends (a result of [`MAX_RESULT_BYTES`] UTF-16 units
/// fits even when every unit is JSON-escaped as `\uXXXX`).
pub const MAX_FROM_WORKER_BYTES: usize = 128 * 1024;
/// The longest `FindProxyForURL` result the worker passes on, in UTF-16 units.
pub const MAX_RESULT_BYTES: usize = 16 * 1024;
/// The longest message (error, alert) the worker passes on, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 2 * 1024;

/// The engine limits the worker applies to a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineLimits {
    /// Iterations one loop may run before it throws.
    pub loop_iteration_limit: u64,
    /// Nested calls before a call throws.
    pub recursion_limit: usize,
    /// Values on the engine's stack before a call throws.
    pub stack_size_limit: usize,
    /// DNS lookups one `FindProxyForURL` call may make; more fail as "not found".
    pub max_dns_lookups_per_call: u32,
}

/// What the parent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Compile and run `script` in a fresh engine.
    Load {
        /// The script's source.
        script: String,
        /// The engine limits.
        limits: EngineLimits,
    },
    /// Call `FindProxyForURLEx` (if defined) or `FindProxyForURL`.
    Find {
        /// The URL argument.
        url: String,
        /// The host argument.
        host: String,
        /// The time the time helpers see.
        now: ClockReading,
        /// What `myIpAddress` and `myIpAddressEx` return (empty: `127.0.0.1` and "").
        my_addresses: Vec<IpAddr>,
    },
    /// The answer to [`FromWorker::Resolve`]: the addresses, or `None` on failure.
    Resolved {
        /// The addresses found.
        addresses: Option<Vec<IpAddr>>,
    },
}

/// What the worker sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The script loaded and defines an entry point.
    Loaded,
    /// `FindProxyForURL` returned this string.
    Found {
        /// The returned string.
        result: String,
    },
    /// Loading or the call failed (syntax error, exception, runtime limit, bad result).
    Failed {
        /// What went wrong.
        message: String,
    },
    /// A DNS helper needs `host` resolved; the parent answers with
    /// [`ToWorker::Resolved`].
    Resolve {
        /// The name to look up.
        host: String,
        /// The families wanted.
        family: FamilyType,
    },
    /// The script called `alert(message)`.
    Alert {
        /// The message, cut to [`MAX_MESSAGE_BYTES`].
        message: String,
    },
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The pipe failed or closed.
    #[error("pipe: {0}")]
    Io(#[from] std::io::Error),
    /// The frame is larger than allowed.
    #[error("a frame of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The frame is not a valid message.
    #[error("malformed message: {0}")]
    Json(#[from] serde_json::Error),
}

fn encode<T: Serialize>(message: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(message)?;
    if body.len() > max {
        return Err(FrameError::TooLarge(body.len()));
    }
    let length = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(body.len()))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

fn checked_length(header: [u8; 4], max: usize) -> Result<usize, FrameError> {
    let length = u32::from_be_bytes(header) as usize;
    if length > max {
        return Err(FrameError::TooLarge(length));
    }
    Ok(length)
}

/// Writes one frame (blocking; the worker's side).
pub fn write_frame<T: Serialize>(
    out: &mut impl Write,
    message: &T,
    max: usize,
) -> Result<(), FrameError> {
    out.write_all(&encode(message, max)?)?;
    out.flush()?;
    Ok(())
}

/// Reads one frame (blocking; the worker's side).
pub fn read_frame<T: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
    max: usize,
) -> Result<T, FrameError> {
    let mut header = [0; 4];
    input.read_exact(&mut header)?;
    let mut body = vec![0; checked_length(header, max)?];
    input.read_exact(&mut body)?;
    Ok(serde_json::from_slice(&body)?)
}

/// Writes one frame (async; the parent's side).
pub async fn write_frame_async<T: Serialize>(
    out: &mut (impl AsyncWriteExt + Unpin),
    message: &T,
    max: usize,
) -> Result<(), FrameError> {
    out.write_all(&encode(message, max)?).await?;
    out.flush().await?;
    Ok(())
}

/// Reads one frame (async; the parent's side).
pub async fn read_frame_async<T: for<'de> Deserialize<'de>>(
    input: &mut (impl AsyncReadExt + Unpin),
    max: usize,
) -> Result<T, FrameError> {
    let mut header = [0; 4];
    input.read_exact(&mut header).await?;
    let mut body = vec![0; checked_length(header, max)?];
    input.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_are_bounded() {
        let message = FromWorker::Found {
            result: "DIRECT".into(),
        };
        let mut buffer = Vec::new();
        write_frame(&mut buffer, &message, MAX_FROM_WORKER_BYTES).unwrap();
        let back: FromWorker = read_frame(&mut buffer.as_slice(), MAX_FROM_WORKER_BYTES).unwrap();
        assert_eq!(back, message);
        assert!(matches!(
            read_frame::<FromWorker>(&mut buffer.as_slice(), 4),
            Err(FrameError::TooLarge(_))
        ));
        let huge = FromWorker::Alert {
            message: "x".repeat(100),
        };
        assert!(matches!(
            write_frame(&mut Vec::new(), &huge, 50),
            Err(FrameError::TooLarge(_))
        ));
        let garbage = [0, 0, 0, 2, b'{', b'x'];
        assert!(matches!(
            read_frame::<FromWorker>(&mut garbage.as_slice(), 100),
            Err(FrameError::Json(_))
        ));
    }
}
