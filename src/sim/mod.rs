//! A simulated Jira Cloud. (Being written: see the simulator task.)
