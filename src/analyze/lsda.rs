//! Landing pads from an FDE's LSDA (`.gcc_except_table`, the Itanium C++ ABI's language-specific
//! data): the code the unwinder enters when an exception (or a thread's cancellation, in C built
//! with `-fexceptions`) passes through a call. Nothing calls or jumps to a landing pad; GCC puts
//! them in the function's `.cold` part, a function of its own to the analysis.

/// DW_EH_PE_omit: the field is absent.
const OMIT: u8 = 0xff;

/// A reader of the table's bytes, mapped at `addr`.
struct Reader<'a> {
    bytes: &'a [u8],
    addr: u64,
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn fixed<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.bytes.get(self.pos..self.pos.checked_add(N)?)?;
        self.pos += N;
        b.try_into().ok()
    }

    fn uleb(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn sleb(&mut self) -> Option<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    v |= u64::MAX << shift;
                }
                return Some(v);
            }
            if shift >= 70 {
                return None;
            }
        }
    }

    /// A value in DWARF exception-header encoding `enc`: its format (low nibble) and, for
    /// addresses, `pcrel` (relative to the field's own address); other bases are refused.
    fn encoded(&mut self, enc: u8) -> Option<u64> {
        let at = self.addr.wrapping_add(self.pos as u64);
        let v = match enc & 0x0f {
            0x00 | 0x04 => u64::from_le_bytes(self.fixed::<8>()?),
            0x01 => self.uleb()?,
            0x02 => u64::from(u16::from_le_bytes(self.fixed::<2>()?)),
            0x03 => u64::from(u32::from_le_bytes(self.fixed::<4>()?)),
            0x09 => self.sleb()?,
            0x0a => i16::from_le_bytes(self.fixed::<2>()?) as i64 as u64,
            0x0b => i32::from_le_bytes(self.fixed::<4>()?) as i64 as u64,
            0x0c => u64::from_le_bytes(self.fixed::<8>()?),
            _ => return None,
        };
        match enc & 0x70 {
            0x00 => Some(v),
            0x10 => Some(at.wrapping_add(v)),
            _ => None,
        }
    }
}

/// The landing pads of the LSDA at `lsda` for the function starting at `start`, read from the
/// `.gcc_except_table` section `(addr, bytes)`. `None` when the table cannot be read: then the
/// caller cannot know where the pads are.
pub fn landing_pads(section: (u64, &[u8]), lsda: u64, start: u64) -> Option<Vec<u64>> {
    let (addr, bytes) = section;
    let off = usize::try_from(lsda.checked_sub(addr)?).ok()?;
    if off >= bytes.len() {
        return None;
    }
    let mut r = Reader {
        bytes: &bytes[off..],
        addr: lsda,
        pos: 0,
    };
    let lp_enc = r.u8()?;
    let lp_start = if lp_enc == OMIT {
        start
    } else {
        r.encoded(lp_enc)?
    };
    if r.u8()? != OMIT {
        r.uleb()?; // the type table's offset: catch clauses' types, not needed here
    }
    let cs_enc = r.u8()?;
    let len = usize::try_from(r.uleb()?).ok()?;
    let end = r.pos.checked_add(len)?;
    if end > r.bytes.len() {
        return None;
    }
    let mut pads = Vec::new();
    while r.pos < end {
        let _site = r.encoded(cs_enc)?;
        let _len = r.encoded(cs_enc)?;
        let pad = r.encoded(cs_enc)?;
        let _action = r.uleb()?;
        if pad != 0 {
            pads.push(lp_start.wrapping_add(pad));
        }
    }
    Some(pads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_are_read_relative_to_the_function_or_the_given_start() {
        // No LPStart, no type table, uleb128 call sites: two calls, the second with a pad at
        // +0x40, then an action-less entry with no pad.
        let t = [
            0xff, 0xff, 0x01, 8, 0x05, 0x05, 0x00, 0x00, 0x10, 0x05, 0x40, 0x00,
        ];
        assert_eq!(
            landing_pads((0x5000, &t), 0x5000, 0x1000),
            Some(vec![0x1040])
        );
        // udata4 call sites, a type table, and an LPStart given absolutely (a cold part's pads
        // counted from the hot part's start).
        let mut t = vec![0x00];
        t.extend(0x2000u64.to_le_bytes());
        t.extend([0x9b, 0x04, 0x03, 13]);
        for v in [0u32, 8, 0x80] {
            t.extend(v.to_le_bytes());
        }
        t.push(1); // the action: uleb128 whatever the call sites' encoding
        assert_eq!(
            landing_pads((0x5000, &t), 0x5000, 0x1000),
            Some(vec![0x2080])
        );
    }

    #[test]
    fn a_table_that_runs_past_its_section_is_not_read() {
        let t = [0xff, 0xff, 0x01, 40, 0x05, 0x05, 0x10, 0x00];
        assert_eq!(landing_pads((0x5000, &t), 0x5000, 0x1000), None);
        assert_eq!(landing_pads((0x5000, &t), 0x4000, 0x1000), None);
        assert_eq!(landing_pads((0x5000, &t), 0x6000, 0x1000), None);
        let t = [
            0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(landing_pads((0x5000, &t), 0x5000, 0x1000), None);
    }
}
