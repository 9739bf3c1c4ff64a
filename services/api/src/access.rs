//! Authorization, in one place: which role may do what ([`Duty`]), and whether the thing
//! acted on lies inside the caller's scope ([`Target`]). Every route calls [`authorize`]
//! before it reads or changes anything.
//!
//! A ticket outside the caller's scope answers 404, exactly as a ticket that does not
//! exist: its existence must not leak. Queues and boards of another community, street or
//! department answer 403: the jurisdiction tree is public (it is in the catalogue).

use whistle_events::{CommunityId, DepartmentId, DistrictId, Location, StreetId};
use whistle_routing::Catalogue;

use crate::auth::{Principal, Role, Scope};
use crate::error::ApiError;

/// What a route does, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duty {
    /// Type a complaint in (residents may also do it anonymously, rate-limited).
    SubmitComplaint,
    /// Read a ticket: its details, timeline and clocks, and ticket lists.
    ReadTicket,
    /// Read the resident's contact unmasked (to call them back).
    ReadContact,
    /// Acknowledge, handle locally, call up, resolve a local fix; a community's queue.
    CommunityWork,
    /// Blow the whistle, re-dispatch, decide extensions, merge duplicates; a street's queue.
    StreetDispatch,
    /// Claim, decline, note progress, finish, ask for more time; a department's queue.
    DepartmentWork,
    /// Boards, rankings, at-risk and breached lists, as-of and what-if; live alerts.
    ReadBoards,
    /// Open supervision (督办) on a ticket.
    Supervise,
    /// Erase a resident's personal data (an erasure request).
    ErasePersonalData,
    /// Publish incidents from another system.
    PublishIncident,
}

impl Duty {
    /// Every duty.
    pub const ALL: [Duty; 10] = [
        Duty::SubmitComplaint,
        Duty::ReadTicket,
        Duty::ReadContact,
        Duty::CommunityWork,
        Duty::StreetDispatch,
        Duty::DepartmentWork,
        Duty::ReadBoards,
        Duty::Supervise,
        Duty::ErasePersonalData,
        Duty::PublishIncident,
    ];

    /// The roles that may do it (inside their scope).
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Duty::SubmitComplaint => &[Operator, GridWorker, Community],
            Duty::ReadTicket => &[GridWorker, Community, Street, Liaison, Supervisor],
            // Those who call the resident back: the community and the department at work.
            Duty::ReadContact => &[GridWorker, Community, Liaison],
            Duty::CommunityWork => &[GridWorker, Community],
            Duty::StreetDispatch => &[Street],
            Duty::DepartmentWork => &[Liaison],
            Duty::ReadBoards => &[Street, Supervisor],
            Duty::Supervise | Duty::ErasePersonalData => &[Supervisor],
            Duty::PublishIncident => &[Integration, Operator],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Duty::SubmitComplaint => "submit complaints",
            Duty::ReadTicket => "read tickets",
            Duty::ReadContact => "read residents' contact details",
            Duty::CommunityWork => "do a community's work",
            Duty::StreetDispatch => "dispatch for a street",
            Duty::DepartmentWork => "work a department's summons",
            Duty::ReadBoards => "read SLA boards",
            Duty::Supervise => "open supervision",
            Duty::ErasePersonalData => "erase personal data",
            Duty::PublishIncident => "publish incidents",
        }
    }
}

/// What a request acts on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Nothing located: intake, or a list the route filters to the caller's scope.
    Anywhere,
    /// A community's queue.
    Community(&'a CommunityId),
    /// A street's queue or board.
    Street(&'a StreetId),
    /// A district's board.
    District(&'a DistrictId),
    /// A department's queue or notices.
    Department(&'a DepartmentId),
    /// One ticket: where it is and every department ever summoned on it.
    Ticket {
        /// Where the problem is.
        location: &'a Location,
        /// Departments summoned on it (declined ones included: they keep seeing what
        /// they declined).
        departments: &'a [DepartmentId],
    },
}

/// Allows the request, or says why not.
pub fn authorize(
    principal: &Principal,
    duty: Duty,
    target: Target<'_>,
    catalogue: &Catalogue,
) -> Result<(), ApiError> {
    let role_may = duty.roles().contains(&principal.role);
    let in_scope = role_may && contains(&principal.scope, target, catalogue);
    match target {
        // A ticket the caller may not read does not exist for them.
        // A caller who can read the ticket learns that their role may not do this; any
        // other caller learns nothing, not even that the ticket exists.
        Target::Ticket { .. } if !in_scope => {
            if !role_may && may_read(principal, target, catalogue) {
                Err(not_permitted(principal, duty))
            } else {
                Err(ApiError::no_ticket("with this id"))
            }
        }
        _ if !role_may => Err(not_permitted(principal, duty)),
        _ if !in_scope => Err(ApiError::forbidden(
            "out_of_scope",
            format!(
                "your scope is {}; this is outside it. Ask for a token of the right scope",
                principal.scope
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether `principal` may read the ticket `target` (so that a refusal to act on it can
/// say why without leaking anything they could not read anyway).
fn may_read(principal: &Principal, target: Target<'_>, catalogue: &Catalogue) -> bool {
    Duty::ReadTicket.roles().contains(&principal.role)
        && contains(&principal.scope, target, catalogue)
}

fn not_permitted(principal: &Principal, duty: Duty) -> ApiError {
    ApiError::forbidden(
        "role_not_permitted",
        format!(
            "a {} may not {}; this needs the role {}",
            principal.role,
            duty.describe(),
            duty.roles()
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    )
}

/// Whether `target` lies inside `scope`.
pub fn contains(scope: &Scope, target: Target<'_>, catalogue: &Catalogue) -> bool {
    let street_of = |community: &CommunityId| catalogue.community(community).map(|c| &c.street);
    let district_of = |street: &StreetId| catalogue.street(street).map(|s| &s.district);
    match (scope, target) {
        (Scope::City, _) => true,
        (Scope::Intake, target) => matches!(target, Target::Anywhere),
        (_, Target::Anywhere) => true,
        (Scope::District(d), Target::District(x)) => d == x,
        (Scope::District(d), Target::Street(s)) => district_of(s) == Some(d),
        (Scope::District(d), Target::Community(c)) => street_of(c).and_then(district_of) == Some(d),
        (Scope::District(d), Target::Ticket { location, .. }) => &location.district == d,
        (Scope::Street(s), Target::Street(x)) => s == x,
        (Scope::Street(s), Target::Community(c)) => street_of(c) == Some(s),
        (Scope::Street(s), Target::Ticket { location, .. }) => &location.street == s,
        (Scope::Community(c), Target::Community(x)) => c == x,
        (Scope::Community(c), Target::Ticket { location, .. }) => &location.community == c,
        (Scope::Department(d), Target::Department(x)) => d == x,
        (Scope::Department(d), Target::Ticket { departments, .. }) => departments.contains(d),
        _ => false,
    }
}

/// Whether a located thing (a ticket's location) lies inside `scope`, for filtering
/// lists; departments see the tickets they were summoned on.
pub fn sees(
    scope: &Scope,
    location: &Location,
    departments: &[DepartmentId],
    catalogue: &Catalogue,
) -> bool {
    contains(
        scope,
        Target::Ticket {
            location,
            departments,
        },
        catalogue,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<T: std::str::FromStr>(s: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        s.parse().expect("a valid id")
    }

    fn principal(role: Role, scope: &str) -> Principal {
        Principal::new("someone", role, scope.parse().expect("scope")).expect("principal")
    }

    #[test]
    fn a_ticket_outside_the_scope_is_not_found_and_a_queue_is_forbidden() {
        let catalogue = Catalogue::demo();
        let street = catalogue.streets().next().expect("a street").clone();
        let community = catalogue
            .communities_of(&street.code)
            .next()
            .expect("a community")
            .clone();
        let location = catalogue.location_of(&community.code).expect("location");
        let other = catalogue
            .streets()
            .find(|s| s.code != street.code)
            .expect("another street")
            .clone();
        let zhujian: DepartmentId = id("zhujian");
        let ticket = Target::Ticket {
            location: &location,
            departments: std::slice::from_ref(&zhujian),
        };
        let ours = principal(Role::Street, &format!("street:{}", street.code));
        let theirs = principal(Role::Street, &format!("street:{}", other.code));
        assert!(authorize(&ours, Duty::StreetDispatch, ticket, &catalogue).is_ok());
        assert_eq!(
            authorize(&theirs, Duty::StreetDispatch, ticket, &catalogue)
                .expect_err("outside")
                .status(),
            404
        );
        assert_eq!(
            authorize(
                &theirs,
                Duty::StreetDispatch,
                Target::Street(&street.code),
                &catalogue
            )
            .expect_err("outside")
            .status(),
            403
        );
        // A liaison of a summoned department reads the ticket but cannot dispatch it.
        let liaison = principal(Role::Liaison, "department:zhujian");
        assert!(authorize(&liaison, Duty::ReadTicket, ticket, &catalogue).is_ok());
        assert_eq!(
            authorize(&liaison, Duty::StreetDispatch, ticket, &catalogue)
                .expect_err("role")
                .code(),
            "role_not_permitted"
        );
        // Another department's liaison learns nothing.
        let other_liaison = principal(Role::Liaison, "department:huanwei");
        assert_eq!(
            authorize(&other_liaison, Duty::StreetDispatch, ticket, &catalogue)
                .expect_err("hidden")
                .status(),
            404
        );
        // A district supervisor sees the street's tickets.
        let supervisor = principal(Role::Supervisor, &format!("district:{}", street.district));
        assert!(authorize(&supervisor, Duty::Supervise, ticket, &catalogue).is_ok());
    }
}
