//! Opaque, validated handles.
//!
//! A handle is never an address. It is a 64-bit (pointer-sized) number that
//! is never reused: the object kind in the top 8 bits, a per-kind serial
//! number below. The registry maps live handles to their objects, so a NULL,
//! freed, forged or wrong-kind handle is reported as an error instead of
//! being dereferenced, and a freed handle stays recognisably "freed" forever
//! (an allocator reusing an address cannot make a stale handle look valid).
//!
//! Locking: the registry lock is held only to look up, insert or remove an
//! entry, never while an object is used or dropped. Objects that change
//! state wrap it in [`Locked`], so calls on one object serialize. Code
//! should hold at most one object lock at a time (clone what it needs out of
//! one object before locking another) so no lock order can deadlock.
//!
//! Adding an object kind: add a variant to [`Kind`] (next free tag), its C
//! name in [`Kind::c_name`], an opaque type below, and
//! `impl HandleKind for MyObject { type C = hf_my; const KIND = Kind::My; }`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use once_cell::sync::Lazy;
use parking_lot::{Mutex, RwLock};

use super::args::null_error;
use super::error::{FfiError, FfiResult};
use super::status::hf_status;

/// The kinds of object a handle can refer to. The value is the tag stored in
/// a handle's top 8 bits; 0 is never used, so small forged values such as
/// `(hf_data*)0x1234` are never valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// `hf_config`: optimizer options.
    Config = 1,
    /// `hf_data`: a data set.
    Data = 2,
    /// `hf_net`: a network.
    Net = 3,
    /// `hf_session`: a training session.
    Session = 4,
}

/// Every kind, in tag order (tag = index + 1).
const KINDS: [Kind; 4] = [Kind::Config, Kind::Data, Kind::Net, Kind::Session];

impl Kind {
    /// The C type name, used in messages.
    pub fn c_name(self) -> &'static str {
        match self {
            Kind::Config => "hf_config",
            Kind::Data => "hf_data",
            Kind::Net => "hf_net",
            Kind::Session => "hf_session",
        }
    }

    fn from_tag(tag: usize) -> Option<Kind> {
        tag.checked_sub(1).and_then(|i| KINDS.get(i).copied())
    }

    fn tag(self) -> usize {
        self as usize
    }
}

/// Opaque C handle type for optimizer options.
#[allow(non_camel_case_types)]
pub struct hf_config {
    _opaque: [u8; 0],
}

/// Opaque C handle type for a data set.
#[allow(non_camel_case_types)]
pub struct hf_data {
    _opaque: [u8; 0],
}

/// Opaque C handle type for a network.
#[allow(non_camel_case_types)]
pub struct hf_net {
    _opaque: [u8; 0],
}

/// Opaque C handle type for a training session.
#[allow(non_camel_case_types)]
pub struct hf_session {
    _opaque: [u8; 0],
}

/// A Rust type that C sees through handles of type `*mut Self::C`.
pub trait HandleKind: Send + Sync + 'static {
    /// The opaque C type (`hf_data`, …).
    type C;
    /// The kind stored in the handle's tag.
    const KIND: Kind;
}

const TAG_SHIFT: u32 = usize::BITS - 8;
const SERIAL_MASK: usize = (1 << TAG_SHIFT) - 1;

type Entry = Arc<dyn Any + Send + Sync>;

/// Live objects by handle value.
static LIVE: Lazy<RwLock<HashMap<usize, Entry>>> = Lazy::new(|| RwLock::new(HashMap::new()));

/// The last serial issued for each kind (index = tag − 1); serials start at 1.
static ISSUED: [AtomicUsize; KINDS.len()] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];

fn issued(kind: Kind) -> &'static AtomicUsize {
    &ISSUED[kind.tag() - 1]
}

/// A fresh, never-before-used handle value for `kind`.
fn next_id(kind: Kind) -> FfiResult<usize> {
    let serial = issued(kind)
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            s.checked_add(1).filter(|&n| n <= SERIAL_MASK)
        })
        .map_err(|_| {
            FfiError::new(
                hf_status::HF_ERR_RESOURCE_LIMIT,
                format!("all {} handle numbers have been used", kind.c_name()),
            )
        })?
        + 1;
    Ok((kind.tag() << TAG_SHIFT) | serial)
}

/// Registers `value` and returns its new handle (never NULL).
pub fn register<T: HandleKind>(value: T) -> FfiResult<*mut T::C> {
    let id = next_id(T::KIND)?;
    LIVE.write().insert(id, Arc::new(value));
    Ok(id as *mut T::C)
}

/// The object behind `handle`, checked to be live and of kind `T::KIND`.
/// `arg` names the argument in error messages.
pub fn get<T: HandleKind>(handle: *const T::C, arg: &str) -> FfiResult<Arc<T>> {
    if handle.is_null() {
        return Err(null_error(arg));
    }
    let id = handle as usize;
    // Clone the Arc and release the registry lock at once.
    let entry = LIVE.read().get(&id).cloned();
    match entry {
        Some(entry) if tag_of(id) == T::KIND.tag() => entry.downcast::<T>().map_err(|_| {
            FfiError::new(
                hf_status::HF_ERR_INTERNAL,
                format!("argument '{arg}': handle registry holds the wrong type"),
            )
        }),
        _ => Err(not_live::<T>(id, entry.is_some(), arg)),
    }
}

/// Frees the object behind `handle`. NULL and an already freed handle of the
/// right kind are no-ops; a live handle of another kind, or one that was
/// never valid, is `HF_ERR_INVALID_HANDLE` and frees nothing. The object is
/// dropped after the registry lock is released, and only once no other call
/// is still using it.
pub fn free<T: HandleKind>(handle: *mut T::C, arg: &str) -> FfiResult<()> {
    if handle.is_null() {
        return Ok(());
    }
    let id = handle as usize;
    let removed = {
        let mut live = LIVE.write();
        if tag_of(id) == T::KIND.tag() {
            live.remove(&id)
        } else {
            None
        }
    };
    match removed {
        Some(entry) => {
            drop(entry);
            Ok(())
        }
        None if was_issued(id, T::KIND) => Ok(()),
        None => {
            let is_live = LIVE.read().contains_key(&id);
            Err(not_live::<T>(id, is_live, arg))
        }
    }
}

/// The number of live handles of `kind` (for tests and leak checks).
pub fn live_count(kind: Kind) -> usize {
    LIVE.read()
        .keys()
        .filter(|&&id| tag_of(id) == kind.tag())
        .count()
}

fn tag_of(id: usize) -> usize {
    id >> TAG_SHIFT
}

/// True if `id` is a handle of `kind` that this process has handed out.
fn was_issued(id: usize, kind: Kind) -> bool {
    let serial = id & SERIAL_MASK;
    tag_of(id) == kind.tag() && serial >= 1 && serial <= issued(kind).load(Ordering::Acquire)
}

/// Explains why `id` is not a live handle of `T::KIND`.
fn not_live<T: HandleKind>(id: usize, is_live: bool, arg: &str) -> FfiError {
    let want = T::KIND.c_name();
    let message = match Kind::from_tag(tag_of(id)) {
        Some(kind) if is_live => {
            format!(
                "argument '{arg}' is a {} handle, expected {want}",
                kind.c_name()
            )
        }
        Some(kind) if kind == T::KIND && was_issued(id, kind) => {
            format!("argument '{arg}' is a {want} handle that has already been freed")
        }
        Some(kind) if was_issued(id, kind) => format!(
            "argument '{arg}' is a freed {} handle, expected {want}",
            kind.c_name()
        ),
        _ => format!(
            "argument '{arg}' ({id:#x}) is not a valid {want} handle (never created by hessfree)"
        ),
    };
    FfiError::new(hf_status::HF_ERR_INVALID_HANDLE, message)
}

/// A mutex around an object's state that also remembers a panic: if a call
/// panics while holding the lock, the object may be half-updated, so every
/// later call on it fails with `HF_ERR_PANIC` (freeing it still works).
pub struct Locked<T> {
    state: Mutex<T>,
    poisoned: AtomicBool,
}

/// Marks the object poisoned if dropped while the thread is unwinding.
struct PoisonOnUnwind<'a>(&'a AtomicBool);

impl Drop for PoisonOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Release);
        }
    }
}

impl<T> Locked<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Locked {
            state: Mutex::new(value),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Runs `f` with exclusive access to the state. `arg` names the handle
    /// argument for the message if the object was poisoned by a panic.
    pub fn with<R>(&self, arg: &str, f: impl FnOnce(&mut T) -> FfiResult<R>) -> FfiResult<R> {
        let mut state = self.state.lock();
        if self.poisoned.load(Ordering::Acquire) {
            return Err(FfiError::new(
                hf_status::HF_ERR_PANIC,
                format!(
                    "argument '{arg}' was left inconsistent by an earlier panic; it can only be freed"
                ),
            ));
        }
        let _bomb = PoisonOnUnwind(&self.poisoned);
        f(&mut state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NetLike(i32);
    impl HandleKind for NetLike {
        type C = hf_net;
        const KIND: Kind = Kind::Net;
    }
    struct SessionLike(Locked<Vec<i32>>);
    impl HandleKind for SessionLike {
        type C = hf_session;
        const KIND: Kind = Kind::Session;
    }

    fn status_and_message<T>(r: FfiResult<T>) -> (hf_status, String) {
        let e = r.err().expect("expected an error");
        (e.status, e.message)
    }

    #[test]
    fn lifecycle_and_diagnostics() {
        let h = register(NetLike(5)).unwrap();
        assert!(!h.is_null());
        assert_eq!(get::<NetLike>(h, "net").unwrap().0, 5);

        let (st, msg) = status_and_message(get::<NetLike>(std::ptr::null(), "net"));
        assert_eq!(st, hf_status::HF_ERR_NULL_POINTER);
        assert_eq!(msg, "argument 'net' is NULL");

        // Wrong kind: a live net passed where a session is expected.
        let as_session = h as *mut hf_session;
        let (st, msg) = status_and_message(get::<SessionLike>(as_session, "session"));
        assert_eq!(st, hf_status::HF_ERR_INVALID_HANDLE);
        assert_eq!(
            msg,
            "argument 'session' is a hf_net handle, expected hf_session"
        );
        // ...and freeing it as a session frees nothing.
        assert!(free::<SessionLike>(as_session, "session").is_err());
        assert!(get::<NetLike>(h, "net").is_ok());

        // Forged.
        let (st, msg) = status_and_message(get::<NetLike>(0x1234 as *const hf_net, "net"));
        assert_eq!(st, hf_status::HF_ERR_INVALID_HANDLE);
        assert!(msg.contains("never created"), "{msg}");
        assert!(free::<NetLike>(0x1234 as *mut hf_net, "net").is_err());

        // Freed, then freed again (harmless), then used.
        free::<NetLike>(h, "net").unwrap();
        free::<NetLike>(h, "net").unwrap();
        free::<NetLike>(std::ptr::null_mut(), "net").unwrap();
        let (st, msg) = status_and_message(get::<NetLike>(h, "net"));
        assert_eq!(st, hf_status::HF_ERR_INVALID_HANDLE);
        assert_eq!(
            msg,
            "argument 'net' is a hf_net handle that has already been freed"
        );
        let (_, msg) = status_and_message(get::<SessionLike>(as_session, "session"));
        assert_eq!(
            msg,
            "argument 'session' is a freed hf_net handle, expected hf_session"
        );

        // Never reused.
        let h2 = register(NetLike(6)).unwrap();
        assert_ne!(h2, h);
        free::<NetLike>(h2, "net").unwrap();
    }

    #[test]
    fn freeing_while_in_use_keeps_the_object_alive_for_that_call() {
        let h = register(NetLike(1)).unwrap();
        let held = get::<NetLike>(h, "net").unwrap();
        free::<NetLike>(h, "net").unwrap();
        assert_eq!(held.0, 1);
        assert!(get::<NetLike>(h, "net").is_err());
    }

    #[test]
    fn locked_serializes_and_poisons_on_panic() {
        let h = register(SessionLike(Locked::new(Vec::new()))).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let addr = h as usize;
                std::thread::spawn(move || {
                    for i in 0..100 {
                        let s = get::<SessionLike>(addr as *const hf_session, "s").unwrap();
                        s.0.with("s", |v| {
                            v.push(t * 1000 + i);
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = get::<SessionLike>(h, "s").unwrap();
        assert_eq!(s.0.with("s", |v| Ok(v.len())).unwrap(), 400);

        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.0.with("s", |_| -> FfiResult<()> { panic!("inside") })
        }));
        assert!(caught.is_err());
        let (st, msg) = status_and_message(s.0.with("session", |v| Ok(v.len())));
        assert_eq!(st, hf_status::HF_ERR_PANIC);
        assert!(msg.contains("'session'"), "{msg}");
        drop(s);
        free::<SessionLike>(h, "s").unwrap();
    }

    #[test]
    fn ids_carry_the_kind_tag() {
        let a = next_id(Kind::Config).unwrap();
        let b = next_id(Kind::Config).unwrap();
        assert_eq!(tag_of(a), 1);
        assert_eq!(b, a + 1);
        assert!(was_issued(a, Kind::Config));
        assert!(!was_issued(a, Kind::Data));
        assert!(!was_issued(b + 1000, Kind::Config));
        assert_eq!(Kind::from_tag(0), None);
        assert_eq!(Kind::from_tag(5), None);
        assert_eq!(Kind::from_tag(2), Some(Kind::Data));
    }
}
