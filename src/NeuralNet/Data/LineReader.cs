namespace NeuralNet.Data;

/// <summary>Reads text lines with a hard cap on their length, so a file without newlines cannot exhaust memory.</summary>
internal sealed class LineReader : IDisposable
{
    private readonly StreamReader _reader;
    private readonly char[] _buffer;
    private readonly string _source;
    private int _start, _end;
    private bool _eof;

    public LineReader(string path, int maxLineLength)
    {
        _source = path;
        _reader = new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true, new FileStreamOptions { BufferSize = 1 << 16 });
        _buffer = new char[Math.Max(maxLineLength + 2, 1024)];
    }

    /// <summary>The 1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Returns the next line without its terminator, or false at the end of the file.</summary>
    /// <exception cref="InvalidDataException">The line is longer than the cap.</exception>
    public bool TryReadLine(out ReadOnlySpan<char> line)
    {
        while (true)
        {
            int nl = _buffer.AsSpan(_start, _end - _start).IndexOf('\n');
            if (nl >= 0)
            {
                line = TrimCr(_buffer.AsSpan(_start, nl));
                _start += nl + 1;
                LineNumber++;
                return true;
            }
            if (_eof)
            {
                if (_start < _end)
                {
                    line = TrimCr(_buffer.AsSpan(_start, _end - _start));
                    _start = _end;
                    LineNumber++;
                    return true;
                }
                line = default;
                return false;
            }
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
                throw new InvalidDataException($"{_source}: line {LineNumber + 1} is longer than {_buffer.Length - 2} characters; the file is not in the expected format.");
            int n = _reader.Read(_buffer, _end, _buffer.Length - _end);
            if (n == 0) _eof = true;
            _end += n;
        }
    }

    private static ReadOnlySpan<char> TrimCr(ReadOnlySpan<char> s) => s.Length > 0 && s[^1] == '\r' ? s[..^1] : s;

    public void Dispose() => _reader.Dispose();
}
