namespace NeuralNet.Serialization;

/// <summary>
/// Writes files atomically: readers (and a process restarted after a crash) see either the complete previous file or
/// the complete new one, never a partial write.
/// </summary>
/// <remarks>
/// <para>The content goes to a temporary file in the target's directory (so the final rename stays on one file system), is
/// flushed to the storage device (<see cref="FileStream.Flush(bool)"/> with <c>flushToDisk: true</c>), and is then
/// renamed over the target with <see cref="File.Move(string, string, bool)"/>, which is an atomic <c>rename(2)</c> on
/// Unix and <c>MoveFileEx(MOVEFILE_REPLACE_EXISTING)</c> on Windows. If the writer throws, the temporary file is deleted
/// and the target is untouched.</para>
/// <para>A process killed mid-write (<c>kill -9</c>, power loss) cannot delete its temporary file, so every write first
/// deletes the temporary files in the same directory that match this class's own pattern
/// (<c>.{file name}.{32 hex digits}.tmp</c>) and have not been written to for <see cref="StaleTemporaryAge"/>; a live
/// writer keeps its file's modification time fresh, and nothing else is touched.</para>
/// </remarks>
internal static class AtomicFile
{
    /// <summary>How long a temporary file must have gone unmodified before a later write deletes it as orphaned (one hour).</summary>
    public static TimeSpan StaleTemporaryAge { get; } = TimeSpan.FromHours(1);

    /// <summary>Writes <paramref name="path"/> atomically with the bytes produced by <paramref name="write"/>.</summary>
    /// <param name="path">The target file; its directory must exist.</param>
    /// <param name="write">Writes the whole content to the stream it is given; it must not close the stream.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or its directory does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(directory))
            throw new ArgumentException($"AtomicFile: the directory '{directory}' of '{path}' does not exist.", nameof(path));

        DeleteStaleTemporaries(directory);
        // A random suffix keeps two concurrent writers of the same target from sharing a temporary file.
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The target file; its directory must exist.</param>
    /// <param name="bytes">The complete new content.</param>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        // Spans cannot be captured by the lambda, so copy once; model files are small next to the training data.
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy, 0, copy.Length));
    }

    /// <summary>Deletes orphaned temporary files of this class in <paramref name="directory"/>; best effort.</summary>
    private static void DeleteStaleTemporaries(string directory)
    {
        DateTime cutoff = DateTime.UtcNow - StaleTemporaryAge;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(directory, ".*.tmp");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        try
        {
            foreach (string candidate in candidates)
            {
                if (IsOwnTemporary(Path.GetFileName(candidate)) && File.GetLastWriteTimeUtc(candidate) < cutoff)
                    TryDelete(candidate);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A directory that cannot be listed is not a reason to fail the write itself.
        }
    }

    /// <summary>True for names of the form <c>.{name}.{32 lowercase hex digits}.tmp</c>, as <see cref="Write"/> creates them.</summary>
    internal static bool IsOwnTemporary(string fileName)
    {
        const int GuidLength = 32;
        if (!fileName.StartsWith('.') || !fileName.EndsWith(".tmp", StringComparison.Ordinal)) return false;
        int guidStart = fileName.Length - 4 - GuidLength;
        if (guidStart < 3 || fileName[guidStart - 1] != '.') return false;
        foreach (char c in fileName.AsSpan(guidStart, GuidLength))
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
