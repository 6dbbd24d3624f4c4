package demoorigin

import "errors"

var (
	// ErrInvalidConfig reports a Config field out of range.
	ErrInvalidConfig = errors.New("demoorigin: invalid config")
	// ErrFFmpegNotFound reports that no ffmpeg binary could be run.
	ErrFFmpegNotFound = errors.New("demoorigin: ffmpeg not found (install ffmpeg: apt-get install ffmpeg)")
	// ErrNotPrepared reports that MediaDir holds no complete encode matching
	// the Config; call Prepare first.
	ErrNotPrepared = errors.New("demoorigin: media not prepared")
	// ErrBadEncode reports ffmpeg output that does not match what was asked
	// (segment count or duration, missing SPS).
	ErrBadEncode = errors.New("demoorigin: unexpected encoder output")
)
